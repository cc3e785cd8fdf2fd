"""ConvIntersectionRNN ("intersectionrnn"): what only it does (shared checks: test_conv_cells.py)."""

import pytest

from tests.cells.conv_cell_cases import C, CASES, H, W

CASE = CASES["intersectionrnn"]
make, IN = CASE.make, CASE.input_shape


def test_parameter_count_and_weight_decay():
    cell = make(weight_decay=1e-4)
    cell.build(IN)
    assert cell.count_params() == 9 * 2 * C * 4 * C + 4 * C
    assert len(cell.losses) == 2
    ln = make(layer_norm=True)
    ln.build(IN)
    assert ln.count_params() == cell.count_params() + 4 * 2 * C
    assert ln.losses == []


def test_input_must_have_out_depth_channels():
    with pytest.raises(ValueError, match="ConvIntersectionRNN.*out_depth=4 channels.* 5 channels"):
        make().build((None, H, W, C + 1))
    cell = make()
    with pytest.raises(ValueError, match="ConvIntersectionRNN.*out_depth=4 channels"):
        cell.build((None, H, W, C - 1))
    assert not cell.built and cell.weights == []
