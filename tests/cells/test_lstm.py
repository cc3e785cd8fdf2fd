"""ConvLSTM ("lstm"): what only the LSTM does, against NumPy, Keras ConvLSTM2D and the original's
shapes (the shared checks are in test_conv_cells.py)."""

import keras
import numpy as np
import pytest

from convrnn_tf.cells.conv_lstm import ConvLSTM
from convrnn_tf.cells.conv_utils import conv2d_same
from tests.cells import cell_reference as ref
from tests.cells.conv_cell_cases import B, C, CASES, H, W, assert_l2_losses, weight_shapes

CASE = CASES["lstm"]
make, IN, CX = CASE.make, CASE.input_shape, CASE.in_depth


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
    shapes = weight_shapes(cell)
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
    assert_l2_losses(cell, [(wd / 2, (cell.kernel, cell.bias))])


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


def test_original_state_mapping():
    rng = np.random.default_rng(4)
    cell = make()
    cell.build(IN)
    c, h = ref.random_states(cell, IN, B, rng)
    packed = np.asarray(ConvLSTM.to_original_state((c, h)))
    assert packed.shape == (B, H, W, 2 * C)
    np.testing.assert_array_equal(packed[..., :C], c)
    np.testing.assert_array_equal(packed[..., C:], h)
    c2, h2 = ConvLSTM.from_original_state(packed)
    np.testing.assert_array_equal(np.asarray(c2), c)
    np.testing.assert_array_equal(np.asarray(h2), h)
