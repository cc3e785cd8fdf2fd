"""ConvLSTM ("lstm") against a NumPy reference, Keras ConvLSTM2D and the original's shapes."""

import keras
import numpy as np
import pytest

import convrnn_tf.cells as cells
from convrnn_tf.cells.conv_lstm import ConvLSTM
from convrnn_tf.cells.conv_utils import conv2d_same

try:
    from tests.cells import cell_reference as ref
except ImportError:  # pragma: no cover - rootdir not on sys.path
    import cell_reference as ref

B, H, W, CX, C = 2, 6, 6, 3, 4
IN = (None, H, W, CX)


def make(**kw):
    kw.setdefault("shape", [H, W])
    kw.setdefault("filter_size", 3)
    kw.setdefault("out_depth", C)
    return ConvLSTM(**kw)


def numpy_step(cell):
    wts = ref.weights_by_name(cell)
    peep = None
    if cell.use_peepholes:
        peep = {g: wts[f"w_{g}_diag"] for g in "fio"}
    ln = None
    if cell.layer_norm:
        names = ("input", "transform", "forget", "output", "state")
        ln = {n: (wts[f"{n}/gamma"], wts[f"{n}/beta"]) for n in names}

    def step(x, c, h):
        return ref.lstm_step(x, c, h, wts, cell.forget_bias, peep, ln)

    return step


CONFIGS = {
    "plain": {},
    "forget_bias": {"forget_bias": 1.356},
    "peepholes": {"use_peepholes": True},
    "layer_norm": {"layer_norm": True, "forget_bias": 0.7},
    "peep_ln_2x2": {"use_peepholes": True, "layer_norm": True, "filter_size": 2.0},
    "4x4": {"filter_size": [4, 4], "forget_bias": 0.92},
    "3x2": {"filter_size": [3, 2], "use_peepholes": True},
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_matches_numpy_reference_one_and_three_steps(config):
    rng = np.random.default_rng(1)
    cell = make(**config)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    step = numpy_step(cell)
    xs = [rng.normal(size=(B, H, W, CX)).astype("float32") for _ in range(3)]
    states = ref.random_states(cell, IN, B, rng)
    assert all(np.abs(s).mean() > 0.1 for s in states)
    for n in (1, 3):
        got, got_states = ref.run_cell(cell, xs[:n], states)
        want, want_states = ref.run_reference(step, xs[:n], states)
        for a, b in zip(got + list(got_states), want + list(want_states)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    # output is h, and the states are (c, h)
    np.testing.assert_array_equal(got[-1], got_states[1])


def test_output_gate_peephole_uses_old_c():
    """Only w_o_diag differs between the two cells: the output changes iff c_{t-1} != 0."""
    rng = np.random.default_rng(2)
    cell = make(use_peepholes=True)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    x = rng.normal(size=(B, H, W, CX)).astype("float32")
    c0, h0 = ref.random_states(cell, IN, B, rng)
    wts = ref.weights_by_name(cell)
    # Reference with the NEW c in the output peephole must disagree with the cell.
    z = ref.conv2d_same(np.concatenate([x, h0], -1), wts["weights"], wts["bias"])
    i, j, f, o = np.split(z, 4, -1)
    new_c = c0 * ref.sigmoid(f + 1.0 + wts["w_f_diag"] * c0)
    new_c += ref.sigmoid(i + wts["w_i_diag"] * c0) * np.tanh(j)
    h_new_c = np.tanh(new_c) * ref.sigmoid(o + wts["w_o_diag"] * new_c)
    h_old_c = np.tanh(new_c) * ref.sigmoid(o + wts["w_o_diag"] * c0)
    y, _ = cell(x, (c0, h0))
    np.testing.assert_allclose(np.asarray(y), h_old_c, rtol=1e-4, atol=2e-5)
    assert np.abs(np.asarray(y) - h_new_c).max() > 1e-3


def _keras_gate_order(a):
    i, j, f, o = np.split(a, 4, axis=-1)
    return np.concatenate([i, f, j, o], axis=-1)  # Keras ConvLSTM2D: i, f, c, o


@pytest.mark.parametrize("filter_size", [3, 2])
def test_matches_keras_convlstm2d(filter_size):
    rng = np.random.default_rng(3)
    t = 4
    cell = make(forget_bias=0.0, filter_size=filter_size)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    wts = ref.weights_by_name(cell)
    k = keras.layers.ConvLSTM2D(
        C,
        filter_size,
        padding="same",
        return_sequences=True,
        return_state=True,
        unit_forget_bias=False,
        activation="tanh",
        recurrent_activation="sigmoid",
    )
    k.build((B, t, H, W, CX))
    kernel = wts["weights"].astype("float32")
    k.cell.kernel.assign(_keras_gate_order(kernel[:, :, :CX, :]))  # input rows
    k.cell.recurrent_kernel.assign(_keras_gate_order(kernel[:, :, CX:, :]))  # h rows
    k.cell.bias.assign(_keras_gate_order(wts["bias"]).astype("float32"))
    xs = rng.normal(size=(B, t, H, W, CX)).astype("float32")
    c0, h0 = ref.random_states(cell, IN, B, rng)
    seq, h_k, c_k = k(xs, initial_state=[h0, c0])
    got, (c, h) = ref.run_cell(cell, [xs[:, s] for s in range(t)], (c0, h0))
    np.testing.assert_allclose(np.stack(got, 1), np.asarray(seq), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(c, np.asarray(c_k), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(h, np.asarray(h_k), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_conv2d_same_matches_tf_same_padding(k):
    """keras.ops.conv 'same' == TF SAME, even kernels padding bottom/right (NumPy reference)."""
    rng = np.random.default_rng(k)
    x = rng.normal(size=(2, 7, 6, 3)).astype("float32")
    w = rng.normal(size=(k, k, 3, 5)).astype("float32")
    b = rng.normal(size=(5,)).astype("float32")
    got = np.asarray(conv2d_same(x, w, b))
    np.testing.assert_allclose(got, ref.conv2d_same(x, w, b), rtol=1e-4, atol=1e-4)
    if k % 2 == 0:  # a symmetric (wrong) padding would give a different answer
        top = (k - 1) // 2 + 1
        xp = np.pad(x, ((0, 0), (top, k - 1 - top), (top, k - 1 - top), (0, 0)))
        wrong = ref.conv2d_same(xp, w, b)[:, top - (k - 1) // 2 : top - (k - 1) // 2 + 7, :6]
        assert np.abs(np.asarray(conv2d_same(x, w, b)) - wrong).max() > 1e-2


def lstm_params(k, cx, c, h=None, w=None, peep=False, ln=False):
    n = k * k * (cx + c) * 4 * c + 4 * c
    if peep:
        n += 3 * h * w * c
    if ln:
        n += 5 * 2 * c
    return n


@pytest.mark.parametrize("peep", [False, True])
@pytest.mark.parametrize("ln", [False, True])
def test_parameter_count_closed_form(peep, ln):
    cell = make(use_peepholes=peep, layer_norm=ln, filter_size=[3, 3])
    cell.build(IN)
    assert cell.count_params() == lstm_params(3, CX, C, H, W, peep, ln)
    assert all(v.trainable for v in cell.weights)


# (layer, filter, C_x, C, H, peepholes): lstm_shallow after the npz override (doc 4.4, Appendix A)
LSTM_SHALLOW = {
    "conv3": (2, 256, 128, 28, False),
    "conv4": (3, 256, 256, 14, True),
    "conv5": (4, 512, 256, 7, False),
}
APPENDIX_A = {  # tnn_model/<layer>/ConvLSTMCell/... shapes, copied from the doc's Appendix A
    "conv3": {"weights": (2, 2, 384, 512), "bias": (512,)},
    "conv4": {"weights": (3, 3, 512, 1024), "bias": (1024,), "w_f_diag": (14, 14, 256),
              "w_i_diag": (14, 14, 256), "w_o_diag": (14, 14, 256)},
    "conv5": {"weights": (4, 4, 768, 1024), "bias": (1024,)},
}


@pytest.mark.parametrize("layer", ["conv3", "conv4"])
def test_lstm_shallow_layer_matches_appendix_a(layer):
    k, cx, c, hw, peep = LSTM_SHALLOW[layer]
    cell = ConvLSTM(
        shape=[hw, hw], filter_size=float(k), out_depth=c, use_peepholes=peep, layer_norm=True,
        kernel_initializer="zeros", bias_initializer="zeros",
    )
    cell.build((None, hw, hw, cx))
    shapes = {v.path.split("/", 1)[1]: tuple(v.shape) for v in cell.weights}
    want = dict(APPENDIX_A[layer])
    for g in ("input", "transform", "forget", "output", "state"):
        want[f"{g}/gamma"] = want[f"{g}/beta"] = (c,)
    assert shapes == want
    assert cell.count_params() == lstm_params(k, cx, c, hw, hw, peep, True) == sum(
        int(np.prod(s)) for s in want.values()
    )


def test_lstm_shallow_config_initializers_and_weight_decay(shared_dir):
    """The npz-derived per-layer kwargs (lstm_shallow.config.json) are accepted as they are."""
    import json

    path = shared_dir / "reference/convrnns-models/lstm_shallow.config.json"
    config = json.loads(path.read_text())
    params = dict(config["model_params"]["layer_params"]["conv3"]["cell_params"])
    cell = ConvLSTM(shape=[H, W], **params)
    assert cell.filter_size == (2, 2) and cell.out_depth == 128
    cell.build((None, H, W, 8))
    bias_value = params["bias_initializer_kwargs"]["value"]
    np.testing.assert_allclose(np.asarray(cell.bias), bias_value, rtol=1e-6)
    kernel = np.asarray(cell.kernel)
    fan_in = 2 * 2 * (8 + 128)
    # TF1 variance_scaling (fan_in, truncated normal): std sqrt(scale / fan_in), cut at 2 sd of
    # the untruncated normal (sd = that / 0.8796)
    expected_std = np.sqrt(params["kernel_initializer_kwargs"]["scale"] / fan_in)
    assert abs(kernel.std() / expected_std - 1) < 0.05
    assert np.abs(kernel).max() <= 2 * expected_std / 0.87962566 + 1e-6
    wd = params["weight_decay"]
    losses = sorted(float(l) for l in cell.losses)
    want = sorted(wd / 2 * float(np.sum(np.square(v))) for v in (cell.kernel, cell.bias))
    np.testing.assert_allclose(losses, want, rtol=1e-5)


def test_weight_decay_only_on_kernel_and_bias():
    cell = make(weight_decay=1e-4, use_peepholes=True, layer_norm=True)
    cell.build(IN)
    assert len(cell.losses) == 2
    assert make(weight_decay=0).losses == []
    cell0 = make(weight_decay=None)
    cell0.build(IN)
    assert cell0.losses == []


def test_default_initializers():
    cell = make(use_peepholes=True)
    cell.build(IN)
    assert np.all(np.asarray(cell.bias) == 0)
    limit = np.sqrt(6 / (9 * (CX + C) + 9 * 4 * C))  # Glorot uniform
    k = np.asarray(cell.kernel)
    assert np.abs(k).max() <= limit and k.std() > limit / 3
    assert np.asarray(cell.w_f_diag).std() > 0


def test_state_layout_and_original_state_mapping():
    rng = np.random.default_rng(4)
    cell = make()
    cell.build((None, None, None, CX))  # spatial size from `shape`
    assert cell.state_shapes(IN) == ((H, W, C), (H, W, C))
    assert cell.compute_output_shape((B, H, W, CX)) == (B, H, W, C)
    states = cell.get_initial_state(B)
    assert len(states) == 2
    assert all(tuple(s.shape) == (B, H, W, C) for s in states)
    assert all(keras.backend.standardize_dtype(s.dtype) == "float32" for s in states)
    c, h = ref.random_states(cell, IN, B, rng)
    packed = np.asarray(ConvLSTM.to_original_state((c, h)))
    np.testing.assert_array_equal(packed[..., :C], c)
    np.testing.assert_array_equal(packed[..., C:], h)
    c2, h2 = ConvLSTM.from_original_state(packed)
    np.testing.assert_array_equal(np.asarray(c2), c)
    np.testing.assert_array_equal(np.asarray(h2), h)


def test_registry_and_round_trip():
    assert cells.get("lstm") is ConvLSTM is cells.ConvLSTM
    assert {"lstm", "gru", "ugrnn", "intersectionrnn", "simplernn"} <= set(cells.names())
    valid = "gru.*intersectionrnn.*lstm.*simplernn.*ugrnn"
    with pytest.raises(ValueError, match=f"unknown cell 'lstmm'.*{valid}"):
        cells.get("lstmm")
    rng = np.random.default_rng(5)
    cell = make(use_peepholes=True, layer_norm=True, forget_bias=0.5, weight_decay=1e-4,
                kernel_initializer="variance_scaling", kernel_initializer_kwargs={"scale": 0.7},
                bias_initializer="constant", bias_initializer_kwargs={"value": 0.3}, norm_gain=1.5)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    ref.check_config_round_trip(cell, IN, rng)


def test_gradients_flow_through_three_steps():
    cell = make(use_peepholes=True, layer_norm=True)
    cell.build(IN)
    ref.randomize_weights(cell, np.random.default_rng(6))
    ref.check_gradients(cell, IN, np.random.default_rng(7))


def test_mixed_bfloat16():
    def factory():
        return make(use_peepholes=True, layer_norm=True)

    ref.check_mixed_bfloat16(factory, IN, np.random.default_rng(8))


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"activation": "tanhh"}, "activation"),
        ({"out_depth": -3}, "out_depth"),
        ({"out_depth": 0}, "out_depth"),
        ({"out_depth": None}, "out_depth"),
        ({"filter_size": 2.5}, "filter_size"),
        ({"filter_size": "3"}, "filter_size"),
        ({"filter_size": [3, 3, 3]}, "filter_size"),
        ({"filter_size": [0, 3]}, "filter_size"),
        ({"filter_size": None}, "filter_size"),
        ({"shape": [6]}, "shape"),
        ({"shape": [6, -1]}, "shape"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"weight_decay": "big"}, "weight_decay"),
        ({"forget_bias": True}, "forget_bias"),
        ({"use_peepholes": 1}, "use_peepholes"),
        ({"layer_norm": "yes"}, "layer_norm"),
        ({"kernel_initializer": "no_such_init"}, "kernel_initializer"),
        ({"bias_initializer": "constant", "bias_initializer_kwargs": {"valu": 1}},
         "bias_initializer"),
        ({"kernel_initializer_kwargs": [1]}, "kernel_initializer_kwargs"),
    ],
)
def test_bad_config_raises_readable_error(kwargs, key):
    with pytest.raises(ValueError, match=f"ConvLSTM.*{key}"):
        make(**kwargs)


def test_unknown_kwarg_is_refused():
    with pytest.raises(ValueError, match="ConvLSTM.*no_such_key"):
        make(no_such_key=1)


def test_second_build_is_a_noop_for_the_same_shape():
    cell = make()
    cell.build(IN)
    kernel = cell.kernel
    cell.build((4, H, W, CX))
    assert cell.kernel is kernel and len(cell.weights) == 2
    with pytest.raises(ValueError, match="ConvLSTM: already built"):
        cell.build((None, H, W, CX + 1))


@pytest.mark.parametrize(
    "input_shape, match",
    [
        ((None, H, W), "rank-4"),
        ((None, H, W, CX, 1), "rank-4"),
        ((None, H + 1, W, CX), "height 7 does not match"),
        ((None, H, W - 1, CX), "width 5 does not match"),
        ((None, H, W, None), "channel"),
    ],
)
def test_build_validates_input_shape(input_shape, match):
    with pytest.raises(ValueError, match=f"ConvLSTM.*{match}"):
        make().build(input_shape)


def test_build_rejects_filter_larger_than_allowed_and_unknown_size():
    with pytest.raises(ValueError, match="ConvLSTM: filter_size .* larger than allowed"):
        ConvLSTM(filter_size=5, out_depth=C).build((None, 2, 2, CX))
    ConvLSTM(filter_size=3, out_depth=C).build((None, 2, 2, CX))  # 3x3 on 2x2 still reaches data
    with pytest.raises(ValueError, match="ConvLSTM: filter_size .* larger than allowed"):
        ConvLSTM(filter_size=4, out_depth=C).build((None, 2, 2, CX))  # even: pads 2 bottom/right
    with pytest.raises(ValueError, match="ConvLSTM.*spatial size is unknown"):
        ConvLSTM(filter_size=3, out_depth=C).build((None, None, None, CX))


def test_feedback_is_refused():
    cell = make()
    assert ConvLSTM.takes_feedback is False
    with pytest.raises(ValueError, match="ConvLSTM takes no separate feedback"):
        cell.build(IN, feedback_shape=(None, H, W, 2))
    cell.build(IN)
    x = np.zeros((B, H, W, CX), "float32")
    states = cell.get_initial_state(B)
    with pytest.raises(ValueError, match="ConvLSTM takes no separate feedback"):
        cell(x, states, feedback=np.zeros((B, H, W, 2), "float32"))
    with pytest.raises(ValueError, match="ConvLSTM: expects a tuple of 2 state"):
        cell(x, states[:1])


def test_symbolic_and_compiled_calls():
    import tensorflow as tf

    cell = make(use_peepholes=True)
    cell.build(IN)
    x = keras.Input((H, W, CX))
    c0, h0 = keras.Input((H, W, C)), keras.Input((H, W, C))
    y, (c1, h1) = cell(x, (c0, h0))
    assert tuple(y.shape) == tuple(c1.shape) == tuple(h1.shape) == (None, H, W, C)
    assert keras.backend.standardize_dtype(c1.dtype) == "float32"
    model = keras.Model([x, c0, h0], [y, c1, h1])
    rng = np.random.default_rng(9)
    xv = rng.normal(size=(B, H, W, CX)).astype("float32")
    states = ref.random_states(cell, IN, B, rng)
    eager, (ce, he) = ref.run_cell(cell, [xv], states)
    got = model([tf.constant(xv)] + [tf.constant(s) for s in states])
    np.testing.assert_allclose(np.asarray(got[0]), eager[0], rtol=1e-5, atol=1e-6)
    compiled = tf.function(lambda a, s: cell(a, s), jit_compile=True)
    y2, (c2, _) = compiled(tf.constant(xv), tuple(tf.constant(s) for s in states))
    np.testing.assert_allclose(np.asarray(y2), eager[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c2), ce, rtol=1e-4, atol=1e-5)
