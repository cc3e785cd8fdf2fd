"""ConvGRU ("gru") against a NumPy reference and the original's shapes."""

import numpy as np
import pytest

import convrnn_tf.cells as cells
from convrnn_tf.cells.conv_gru import ConvGRU

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
    return ConvGRU(**kw)


def numpy_step(cell):
    wts = ref.weights_by_name(cell)
    gates = (wts["gates/weights"], wts["gates/bias"])
    candidates = (wts["candidates/weights"], wts["candidates/bias"])
    ln = None
    if cell.layer_norm:
        ln = {n: (wts[f"{n}/gamma"], wts[f"{n}/beta"]) for n in ("r_pre", "u_pre", "c_pre")}

    def step(x, h):
        return ref.gru_step(x, h, gates, candidates, cell.forget_bias, ln)

    return step


CONFIGS = {
    "default": {},
    "forget_bias_0": {"forget_bias": 0.0},
    "forget_bias_2": {"forget_bias": 2.0},
    "layer_norm": {"layer_norm": True, "norm_gain": 0.5, "norm_shift": 0.1},
    "2x2": {"filter_size": 2},
    "5x3": {"filter_size": [5, 3]},
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_matches_numpy_reference_one_and_three_steps(config):
    rng = np.random.default_rng(11)
    cell = make(**config)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    step = numpy_step(cell)
    xs = [rng.normal(size=(B, H, W, CX)).astype("float32") for _ in range(3)]
    states = ref.random_states(cell, IN, B, rng)
    for n in (1, 3):
        got, got_states = ref.run_cell(cell, xs[:n], states)
        want, want_states = ref.run_reference(step, xs[:n], states)
        for a, b in zip(got + list(got_states), want + list(want_states)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    np.testing.assert_array_equal(got[-1], got_states[0])


def test_forget_bias_goes_to_the_reset_gate():
    """A reference that adds forget_bias to the update gate instead must disagree."""
    rng = np.random.default_rng(12)
    cell = make(forget_bias=1.5)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    wts = ref.weights_by_name(cell)
    x = rng.normal(size=(B, H, W, CX)).astype("float32")
    (h,) = ref.random_states(cell, IN, B, rng)
    y, _ = cell(x, (h,))
    gates = ref.conv2d_same(np.concatenate([x, h], -1), wts["gates/weights"], wts["gates/bias"])
    r_pre, u_pre = np.split(gates, 2, -1)
    r, u = ref.sigmoid(r_pre), ref.sigmoid(u_pre + 1.5)
    cand = (wts["candidates/weights"], wts["candidates/bias"])
    c = np.tanh(ref.conv2d_same(np.concatenate([x, r * h], -1), *cand))
    assert np.abs(np.asarray(y) - (u * h + (1 - u) * c)).max() > 1e-2


def test_default_bias_initializers():
    cell = make()
    cell.build(IN)
    np.testing.assert_array_equal(np.asarray(cell.gates.bias), 1.0)
    np.testing.assert_array_equal(np.asarray(cell.candidates.bias), 0.0)
    cell = make(bias_initializer="constant", bias_initializer_kwargs={"value": -0.5})
    cell.build(IN)
    np.testing.assert_array_equal(np.asarray(cell.gates.bias), -0.5)
    np.testing.assert_array_equal(np.asarray(cell.candidates.bias), -0.5)


def test_parameter_count_and_weight_decay():
    cell = make(weight_decay=1e-4)
    cell.build(IN)
    k = 9
    assert cell.count_params() == k * (CX + C) * 2 * C + 2 * C + k * (CX + C) * C + C
    losses = sorted(float(l) for l in cell.losses)
    tensors = (cell.gates.kernel, cell.gates.bias, cell.candidates.kernel, cell.candidates.bias)
    want = sorted(0.5e-4 * float(np.sum(np.square(np.asarray(v)))) for v in tensors)
    np.testing.assert_allclose(losses, want, rtol=1e-5)
    ln = make(weight_decay=1e-4, layer_norm=True)
    ln.build(IN)
    assert ln.count_params() == cell.count_params() + 3 * 2 * C
    assert len(ln.losses) == 4  # none on gamma/beta


def test_gru_shallow_conv3_matches_appendix_a():
    cell = ConvGRU(shape=[28, 28], filter_size=[3, 3], out_depth=256, weight_decay=1e-4,
                   kernel_initializer="zeros")
    cell.build((None, 28, 28, 256))
    shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in cell.weights}
    assert shapes == {  # tnn_model/conv3/ConvGRUCell/...
        "gates/weights": (3, 3, 512, 512),
        "gates/bias": (512,),
        "candidates/weights": (3, 3, 512, 256),
        "candidates/bias": (256,),
    }
    assert cell.count_params() == 3 * 3 * 512 * 512 + 512 + 3 * 3 * 512 * 256 + 256


def test_registry_round_trip_gradients_mixed_precision():
    assert cells.get("gru") is ConvGRU is cells.ConvGRU
    rng = np.random.default_rng(13)
    cell = make(layer_norm=True, forget_bias=0.3, weight_decay=1e-4, activation="relu",
                kernel_initializer="variance_scaling", kernel_initializer_kwargs={"scale": 2.0})
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    ref.check_config_round_trip(cell, IN, rng)
    ref.check_gradients(cell, IN, rng)
    ref.check_mixed_bfloat16(lambda: make(layer_norm=True), IN, rng)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"activation": "nope"}, "activation"),
        ({"out_depth": -1}, "out_depth"),
        ({"filter_size": 1.5}, "filter_size"),
        ({"filter_size": True}, "filter_size"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"layer_norm": None}, "layer_norm"),
        ({"norm_gain": "1"}, "norm_gain"),
        ({"bias_initializer": "bogus"}, "bias_initializer"),
    ],
)
def test_bad_config_raises_readable_error(kwargs, key):
    with pytest.raises(ValueError, match=f"ConvGRU.*{key}"):
        make(**kwargs)


def test_build_validation_and_feedback():
    with pytest.raises(ValueError, match="ConvGRU.*rank-4"):
        make().build((None, H, CX))
    with pytest.raises(ValueError, match="ConvGRU.*height 5 does not match"):
        make().build((None, 5, W, CX))
    with pytest.raises(ValueError, match="ConvGRU takes no separate feedback"):
        make().build(IN, (None, H, W, 1))
    cell = make()
    cell.build(IN)
    x = np.zeros((B, H, W, CX), "float32")
    with pytest.raises(ValueError, match="ConvGRU takes no separate feedback"):
        cell(x, cell.get_initial_state(B), feedback=x)
    assert cell.state_shapes(IN) == ((H, W, C),)
    assert cell.compute_output_shape((B, H, W, CX)) == (B, H, W, C)
