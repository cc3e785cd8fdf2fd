"""ConvIntersectionRNN ("intersectionrnn") against a NumPy reference and the original's shapes."""

import numpy as np
import pytest

import convrnn_tf.cells as cells
from convrnn_tf.cells.intersection_rnn import ConvIntersectionRNN

try:
    from tests.cells import cell_reference as ref
except ImportError:  # pragma: no cover - rootdir not on sys.path
    import cell_reference as ref

B, H, W, C = 2, 6, 6, 4
IN = (None, H, W, C)


def make(**kw):
    kw.setdefault("shape", [H, W])
    kw.setdefault("filter_size", [3, 3])
    kw.setdefault("out_depth", C)
    return ConvIntersectionRNN(**kw)


@pytest.mark.parametrize(
    "config",
    [{}, {"forget_bias": 0.0}, {"layer_norm": True, "forget_bias": 0.5}, {"filter_size": 2}],
    ids=["default", "fb0", "layer_norm", "2x2"],
)
def test_matches_numpy_reference_one_and_three_steps(config):
    rng = np.random.default_rng(31)
    cell = make(**config)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    wts = ref.weights_by_name(cell)
    ln = None
    if cell.layer_norm:
        names = ("gh_act", "h_act", "gy_act", "y_act")
        ln = {n: (wts[f"{n}/gamma"], wts[f"{n}/beta"]) for n in names}

    def step(x, h):
        return ref.intersection_step(x, h, wts["weights"], wts["bias"], cell.forget_bias, ln)

    xs = [rng.normal(size=(B, H, W, C)).astype("float32") for _ in range(3)]
    states = ref.random_states(cell, IN, B, rng)
    for n in (1, 3):
        got, got_states = ref.run_cell(cell, xs[:n], states)
        want, want_states = ref.run_reference(step, xs[:n], states)
        for a, b in zip(got + list(got_states), want + list(want_states)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    # the output is y, not the state
    assert np.abs(got[-1] - got_states[0]).max() > 1e-2


def test_parameter_count_and_weight_decay():
    cell = make(weight_decay=1e-4)
    cell.build(IN)
    assert cell.count_params() == 9 * 2 * C * 4 * C + 4 * C
    assert len(cell.losses) == 2
    ln = make(layer_norm=True)
    ln.build(IN)
    assert ln.count_params() == cell.count_params() + 4 * 2 * C
    assert ln.losses == []


def test_intersectionrnn_shallow_conv4_matches_appendix_a():
    cell = ConvIntersectionRNN(shape=[14, 14], filter_size=[3, 3], out_depth=256, weight_decay=1e-4,
                               kernel_initializer="zeros")
    cell.build((None, 14, 14, 256))
    shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in cell.weights}
    assert shapes == {"weights": (3, 3, 512, 1024), "bias": (1024,)}
    assert cell.count_params() == 3 * 3 * 512 * 1024 + 1024


def test_input_must_match_out_depth_and_shape():
    with pytest.raises(ValueError, match="ConvIntersectionRNN.*out_depth=4 channels"):
        make().build((None, H, W, C + 1))
    with pytest.raises(ValueError, match="ConvIntersectionRNN.*height 5 does not match"):
        make().build((None, 5, W, C))


def test_registry_round_trip_gradients_mixed_precision():
    assert cells.get("intersectionrnn") is ConvIntersectionRNN is cells.ConvIntersectionRNN
    rng = np.random.default_rng(32)
    cell = make(layer_norm=True, weight_decay=1e-4, norm_shift=0.2)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    ref.check_config_round_trip(cell, IN, rng)
    ref.check_gradients(cell, IN, rng)
    ref.check_mixed_bfloat16(make, IN, rng)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"out_depth": "4"}, "out_depth"),
        ({"shape": "6x6"}, "shape"),
        ({"layer_norm": 0}, "layer_norm"),
        ({"weight_decay": float("nan")}, "weight_decay"),
    ],
)
def test_bad_config_raises_readable_error(kwargs, key):
    with pytest.raises(ValueError, match=f"ConvIntersectionRNN.*{key}"):
        make(**kwargs)


def test_feedback_is_refused():
    cell = make()
    cell.build(IN)
    x = np.zeros((B, H, W, C), "float32")
    with pytest.raises(ValueError, match="ConvIntersectionRNN takes no separate feedback"):
        cell(x, cell.get_initial_state(B), feedback=x)
