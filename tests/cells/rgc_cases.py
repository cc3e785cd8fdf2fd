"""Shared set-up of the reciprocal gated cell tests: the rgc_shallow conv3 memory dict and a
builder of cells with random (non-zero) weights, inputs and states."""

import numpy as np

from convrnn_tf.cells.reciprocal_gated import ReciprocalGatedCell

B = 2

# rgc_shallow.json, conv3 memory dict (without "function"), written out so the test runs without shared/.
SHALLOW_CONV3 = {
    "shape": [28, 28], "out_depth": 256, "cell_depth": 256, "tau_filter_size": [3, 3],
    "gate_filter_size": [3, 3], "ff_filter_size": [3, 3], "input_to_cell": True,
    "residual_to_out_gate": True, "tau_offset": 1.0, "gate_offset": 1.0, "tau_bias": 0.0,
    "gate_bias": 0.0, "tau_multiplier": -1.0, "gate_multiplier": -1.0, "feedback_entry": "out",
    "tau_nonlinearity": "sigmoid", "gate_nonlinearity": "sigmoid", "cell_activation": "elu",
    "out_activation": "elu", "cell_residual": False, "out_residual": False, "weight_decay": 0.0001,
}


def small_shallow(shape=(6, 6), depth=4, **kw):
    cfg = dict(SHALLOW_CONV3, shape=list(shape), out_depth=depth, cell_depth=depth, variant="shallow")
    cfg.update(kw)
    return cfg


def make(cfg, c_in, c_fb=None, c_res=None, seed=0):
    """Build a cell with random weights (biases random and non-zero) and random inputs/states."""
    cell = ReciprocalGatedCell(**cfg)
    h, w = cfg["shape"]
    cell.build((None, h, w, c_in), None if c_fb is None else (None, h, w, c_fb),
               None if c_res is None else (None, h, w, c_res))
    rng = np.random.default_rng(seed)
    for v in cell.weights:
        value = rng.normal(0.0, 0.3, size=v.shape)
        if "gamma" in v.name:
            value += 1.0
        v.assign(value.astype("float32"))
    x = rng.normal(0, 1, (B, h, w, c_in)).astype("float32")
    fb = None if c_fb is None else rng.normal(0, 1, (B, h, w, c_fb)).astype("float32")
    r = None if c_res is None else rng.normal(0, 1, (B, h, w, c_res)).astype("float32")
    states = tuple(rng.normal(0, 0.5, (B,) + s).astype("float32") for s in cell.state_shapes((B, h, w, c_in)))
    return cell, x, fb, r, states
