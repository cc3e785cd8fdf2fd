"""ConvSimpleRNN ("simplernn", the original ConvNormBasicCell) against a NumPy reference."""

import numpy as np
import pytest

import convrnn_tf.cells as cells
from convrnn_tf.cells.simple_rnn import ConvSimpleRNN

try:
    from tests.cells import cell_reference as ref
except ImportError:  # pragma: no cover - rootdir not on sys.path
    import cell_reference as ref

B, H, W, CX, C = 2, 6, 6, 5, 4
IN = (None, H, W, CX)


def make(**kw):
    kw.setdefault("shape", [H, W])
    kw.setdefault("filter_size", [3, 3])
    kw.setdefault("out_depth", C)
    return ConvSimpleRNN(**kw)


@pytest.mark.parametrize(
    "config", [{}, {"layer_norm": False}, {"filter_size": 2}], ids=["layer_norm", "plain", "2x2"]
)
def test_matches_numpy_reference_one_and_three_steps(config):
    rng = np.random.default_rng(41)
    cell = make(**config)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    wts = ref.weights_by_name(cell)
    ln = (wts["layer_norm/gamma"], wts["layer_norm/beta"]) if cell.layer_norm else None

    def step(x, h):
        i_conv = (wts["i/weights"], wts["i/bias"])
        s_conv = (wts["s/weights"], wts["s/bias"])
        return ref.simple_rnn_step(x, h, i_conv, s_conv, ln)

    xs = [rng.normal(size=(B, H, W, CX)).astype("float32") for _ in range(3)]
    states = ref.random_states(cell, IN, B, rng)
    for n in (1, 3):
        got, got_states = ref.run_cell(cell, xs[:n], states)
        want, want_states = ref.run_reference(step, xs[:n], states)
        for a, b in zip(got + list(got_states), want + list(want_states)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_defaults_follow_the_original_constructor():
    cell = make()
    assert cell.layer_norm is True and cell.activation == "elu"
    assert cell.kernel_regularizer == 5e-4 and cell.bias_regularizer == 5e-4
    cell.build(IN)
    np.testing.assert_array_equal(np.asarray(cell.i.bias), 0.0)
    np.testing.assert_array_equal(np.asarray(cell.ln.gamma), 1.0)
    np.testing.assert_array_equal(np.asarray(cell.ln.beta), 0.0)


def test_parameter_count_and_separate_regularizers():
    cell = make(kernel_regularizer=1e-4, bias_regularizer=3e-4)
    cell.build(IN)
    assert cell.count_params() == 9 * CX * C + C + 9 * C * C + C + 2 * C
    ref.randomize_weights(cell, np.random.default_rng(42))
    losses = sorted(float(l) for l in cell.losses)
    want = sorted(
        [0.5e-4 * float(np.sum(np.square(np.asarray(k)))) for k in (cell.i.kernel, cell.s.kernel)]
        + [1.5e-4 * float(np.sum(np.square(np.asarray(b)))) for b in (cell.i.bias, cell.s.bias)]
    )
    np.testing.assert_allclose(losses, want, rtol=1e-5)
    none = make(kernel_regularizer=0, bias_regularizer=None)
    none.build(IN)
    assert none.losses == []


def test_simplernn_shallow_conv3_matches_appendix_a(shared_dir):
    import json

    spec = json.loads((shared_dir / "reference/convrnns-models/simplernn_shallow.json").read_text())
    nodes = spec["nodes"] if isinstance(spec, dict) else spec
    memory = dict(next(n for n in nodes if n["name"] == "conv3")["memory"])
    memory.pop("function")
    cell = ConvSimpleRNN(**memory, kernel_initializer="zeros")
    cell.build((None, 28, 28, 256))
    shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in cell.weights}
    assert shapes == {  # tnn_model/conv3/ConvNormBasicCell/...
        "s/weights": (3, 3, 128, 128),
        "s/bias": (128,),
        "i/weights": (3, 3, 256, 128),
        "i/bias": (128,),
        "layer_norm/gamma": (128,),
        "layer_norm/beta": (128,),
    }
    assert cell.kernel_regularizer == 1e-4


def test_registry_round_trip_gradients_mixed_precision():
    assert cells.get("simplernn") is ConvSimpleRNN is cells.ConvSimpleRNN
    rng = np.random.default_rng(43)
    cell = make(activation="tanh", kernel_regularizer=1e-4, bias_regularizer=2e-4)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    ref.check_config_round_trip(cell, IN, rng)
    ref.check_gradients(cell, IN, rng)
    ref.check_mixed_bfloat16(make, IN, rng)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"activation": "softmaxx"}, "activation"),
        ({"kernel_regularizer": -1.0}, "kernel_regularizer"),
        ({"bias_regularizer": "x"}, "bias_regularizer"),
        ({"out_depth": 0}, "out_depth"),
        ({"filter_size": [3, 3.5]}, "filter_size"),
    ],
)
def test_bad_config_raises_readable_error(kwargs, key):
    with pytest.raises(ValueError, match=f"ConvSimpleRNN.*{key}"):
        make(**kwargs)


def test_build_validation_and_feedback():
    with pytest.raises(ValueError, match="ConvSimpleRNN.*larger than allowed"):
        make(shape=None, filter_size=7).build((None, 3, 3, CX))
    cell = make()
    cell.build(IN)
    x = np.zeros((B, H, W, CX), "float32")
    with pytest.raises(ValueError, match="ConvSimpleRNN takes no separate feedback"):
        cell(x, cell.get_initial_state(B), feedback=x)
