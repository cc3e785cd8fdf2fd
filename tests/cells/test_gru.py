"""ConvGRU ("gru"): what only the GRU does (the shared checks are in test_conv_cells.py)."""

import numpy as np

from tests.cells import cell_reference as ref
from tests.cells.conv_cell_cases import B, C, CASES, assert_l2_losses

CASE = CASES["gru"]
make, IN, CX = CASE.make, CASE.input_shape, CASE.in_depth


def test_forget_bias_goes_to_the_reset_gate():
    """A reference that adds forget_bias to the update gate instead must disagree."""
    rng = np.random.default_rng(12)
    cell = make(forget_bias=1.5)
    cell.build(IN)
    ref.randomize_weights(cell, rng)
    wts = ref.weights_by_name(cell)
    x = rng.normal(size=(B,) + IN[1:]).astype("float32")
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
    tensors = (cell.gates.kernel, cell.gates.bias, cell.candidates.kernel, cell.candidates.bias)
    assert_l2_losses(cell, [(0.5e-4, tensors)])
    ln = make(weight_decay=1e-4, layer_norm=True)
    ln.build(IN)
    assert ln.count_params() == cell.count_params() + 3 * 2 * C
    assert len(ln.losses) == 4  # none on gamma/beta

