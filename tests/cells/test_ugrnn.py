"""ConvUGRNN ("ugrnn"): what only the UGRNN does (the shared checks are in test_conv_cells.py)."""

import keras
import numpy as np

from tests.cells.conv_cell_cases import B, C, CASES, H, W, assert_l2_losses

CASE = CASES["ugrnn"]
make, IN, CX = CASE.make, CASE.input_shape, CASE.in_depth


def test_parameter_count_initializers_and_weight_decay():
    cell = make(weight_decay=2e-4)
    cell.build(IN)
    assert cell.count_params() == 9 * (CX + C) * 2 * C + 2 * C
    np.testing.assert_array_equal(np.asarray(cell.bias), 0.0)
    assert_l2_losses(cell, [(1e-4, (cell.kernel, cell.bias))])


def test_float32_state_is_not_rounded_to_bfloat16_on_the_way_in():
    """Saturated gate (g == 1 in float32): h' == h exactly, also under mixed_bfloat16 (the state
    must not pass through the compute dtype)."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    cell = make(forget_bias=200.0, kernel_initializer="zeros")
    cell.build(IN)
    h = np.full((B, H, W, C), 1.0 + 2.0**-12, "float32")  # not representable in bfloat16
    y, (new_h,) = cell(np.ones((B, H, W, CX), "float32"), (h,))
    assert keras.backend.standardize_dtype(new_h.dtype) == "float32"
    np.testing.assert_array_equal(np.asarray(new_h), h)
