"""ConvUGRNN ("ugrnn") against a NumPy reference and the original's shapes."""

import numpy as np
import pytest

import convrnn_tf.cells as cells
from convrnn_tf.cells.ugrnn import ConvUGRNN

try:
    from tests.cells import cell_reference as ref
except ImportError:  # pragma: no cover - rootdir not on sys.path
    import cell_reference as ref

B, H, W, CX, C = 2, 6, 6, 3, 4
IN = (None, H, W, CX)


def make(**kw):
    kw.setdefault("shape", [H, W])
    kw.setdefault("filter_size", [3, 3])
    kw.setdefault("out_depth", C)
    return ConvUGRNN(**kw)


@pytest.mark.parametrize(
    "config",
    [{}, {"forget_bias": 0.0}, {"forget_bias": -0.8, "filter_size": 4}, {"filter_size": [1, 3]}],
)
def test_matches_numpy_reference_one_and_three_steps(config):
    rng = np.random.default_rng(21)
    cell = make(**config)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    wts = ref.weights_by_name(cell)

    def step(x, h):
        return ref.ugrnn_step(x, h, wts["weights"], wts["bias"], cell.forget_bias)

    xs = [rng.normal(size=(B, H, W, CX)).astype("float32") for _ in range(3)]
    states = ref.random_states(cell, IN, B, rng)
    for n in (1, 3):
        got, got_states = ref.run_cell(cell, xs[:n], states)
        want, want_states = ref.run_reference(step, xs[:n], states)
        for a, b in zip(got + list(got_states), want + list(want_states)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    np.testing.assert_array_equal(got[-1], got_states[0])


def test_parameter_count_initializers_and_weight_decay():
    cell = make(weight_decay=2e-4)
    cell.build(IN)
    assert cell.count_params() == 9 * (CX + C) * 2 * C + 2 * C
    np.testing.assert_array_equal(np.asarray(cell.bias), 0.0)
    losses = sorted(float(l) for l in cell.losses)
    want = sorted(1e-4 * float(np.sum(np.square(np.asarray(v)))) for v in (cell.kernel, cell.bias))
    np.testing.assert_allclose(losses, want, rtol=1e-5)


def test_ugrnn_shallow_conv5_matches_appendix_a():
    cell = ConvUGRNN(shape=[7, 7], filter_size=[3, 3], out_depth=512, weight_decay=1e-4,
                     kernel_initializer="zeros")
    cell.build((None, 7, 7, 512))
    shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in cell.weights}
    # tnn_model/conv5/ConvUGRNNCell/...
    assert shapes == {"weights": (3, 3, 1024, 1024), "bias": (1024,)}
    assert cell.count_params() == 3 * 3 * 1024 * 1024 + 1024


def test_registry_round_trip_gradients_mixed_precision():
    assert cells.get("ugrnn") is ConvUGRNN is cells.ConvUGRNN
    rng = np.random.default_rng(22)
    cell = make(forget_bias=0.4, weight_decay=1e-4, bias_initializer="random_normal",
                bias_initializer_kwargs={"stddev": 0.1})
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    ref.check_config_round_trip(cell, IN, rng)
    ref.check_gradients(cell, IN, rng)
    ref.check_mixed_bfloat16(make, IN, rng)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"layer_norm": True}, "layer_norm"),
        ({"out_depth": 2.5}, "out_depth"),
        ({"filter_size": [3]}, "filter_size"),
        ({"forget_bias": "1"}, "forget_bias"),
        ({"kernel_initializer": "nope"}, "kernel_initializer"),
    ],
)
def test_bad_config_raises_readable_error(kwargs, key):
    with pytest.raises(ValueError, match=f"ConvUGRNN.*{key}"):
        make(**kwargs)


def test_activation_is_not_a_ugrnn_key():
    with pytest.raises(ValueError, match="ConvUGRNN.*activation"):
        make(activation="tanh")


def test_build_validation_and_feedback():
    with pytest.raises(ValueError, match="ConvUGRNN.*width 7 does not match"):
        make().build((None, H, 7, CX))
    cell = make()
    cell.build(IN)
    x = np.zeros((B, H, W, CX), "float32")
    with pytest.raises(ValueError, match="ConvUGRNN takes no separate feedback"):
        cell(x, cell.get_initial_state(B), feedback=x)


def test_float32_state_is_not_rounded_to_bfloat16_on_the_way_in():
    """Saturated gate (g == 1 in float32): h' == h exactly, also under mixed_bfloat16 (the state
    must not pass through the compute dtype)."""
    import keras

    keras.config.set_dtype_policy("mixed_bfloat16")
    cell = make(forget_bias=200.0, kernel_initializer="zeros")
    cell.build(IN)
    h = np.full((B, H, W, C), 1.0 + 2.0**-12, "float32")  # not representable in bfloat16
    y, (new_h,) = cell(np.ones((B, H, W, CX), "float32"), (h,))
    assert keras.backend.standardize_dtype(new_h.dtype) == "float32"
    np.testing.assert_array_equal(np.asarray(new_h), h)
