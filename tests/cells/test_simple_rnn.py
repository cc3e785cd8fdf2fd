"""ConvSimpleRNN ("simplernn", the original ConvNormBasicCell): what only it does (the shared
checks are in test_conv_cells.py)."""

import json

import numpy as np

from convrnn_tf.cells.simple_rnn import ConvSimpleRNN
from tests.cells import cell_reference as ref
from tests.cells.conv_cell_cases import C, CASES, assert_l2_losses, weight_shapes

CASE = CASES["simplernn"]
make, IN, CX = CASE.make, CASE.input_shape, CASE.in_depth


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
    kernels, biases = (cell.i.kernel, cell.s.kernel), (cell.i.bias, cell.s.bias)
    assert_l2_losses(cell, [(0.5e-4, kernels), (1.5e-4, biases)])
    none = make(kernel_regularizer=0, bias_regularizer=None)
    none.build(IN)
    assert none.losses == []
    assert none.kernel_regularizer == none.bias_regularizer == 0.0


def test_simplernn_shallow_conv3_matches_appendix_a(shared_dir):
    spec = json.loads((shared_dir / "reference/convrnns-models/simplernn_shallow.json").read_text())
    nodes = spec["nodes"] if isinstance(spec, dict) else spec
    memory = dict(next(n for n in nodes if n["name"] == "conv3")["memory"])
    memory.pop("function")
    cell = ConvSimpleRNN(**memory, kernel_initializer="zeros")
    cell.build((None, 28, 28, 256))
    shapes = weight_shapes(cell)
    assert shapes == {  # tnn_model/conv3/ConvNormBasicCell/...
        "s/weights": (3, 3, 128, 128),
        "s/bias": (128,),
        "i/weights": (3, 3, 256, 128),
        "i/bias": (128,),
        "layer_norm/gamma": (128,),
        "layer_norm/beta": (128,),
    }
    assert cell.kernel_regularizer == 1e-4
