"""Pieces of the reciprocal gated cell (`reciprocal_gated.py`): config, shape and input checks, conv paths and
the hyper-parameters of the original models.

A *conv path* is one convolution of the cell, either a full ``k x k`` conv (optionally + bias) or a
depth-separable one (depthwise ``k x k`` with multiplier 1, then pointwise ``1 x 1``, optionally +
bias), always stride 1 and TF ``SAME`` padding. Each path remembers the original TF variable name of
each of its weights (relative to ``tnn_model/<node>/``) so a checkpoint loader can map them.
"""

from __future__ import annotations

import numbers

from keras import ops

from convrnn_tf.cells import common

# The original's cell scope: every cell variable lives under ``tnn_model/<node>/ReciprocalGateCell/``.
TF_SCOPE = "ReciprocalGateCell"


def kernel_size(value, where: str, allow_zero: bool = False):
    """``k``, ``k.0`` or ``[kh, kw]`` (the original's ``ksize``) as a tuple of two ints."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        items = list(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        items = [value, value]
    else:
        raise ValueError(f"{where}: expected an int or [kh, kw], got {value!r}")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Real) or int(item) != item:
            raise ValueError(f"{where}: filter sizes must be whole numbers, got {value!r}")
        out.append(int(item))
    lowest = 0 if allow_zero else 1
    if min(out) < lowest or (allow_zero and 0 in out and out != [0, 0]):
        raise ValueError(f"{where}: filter sizes must be >= 1, got {value!r}")
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# Configuration

VARIANT_DEFAULTS = {
    "shallow": {"temporal_conv_bias": False, "tau_gate_bias_mode": "unused", "clamp_kernel_size": "all"},
    "median": {"temporal_conv_bias": True, "tau_gate_bias_mode": "non_separable",
               "clamp_kernel_size": "separable"},
}
BIAS_MODES = ("unused", "non_separable", "all")
CLAMP_MODES = ("all", "separable", "none")
ENTRIES = ("input", "cell", "out")
FLAG_KEYS = ("feedback_depth_separable", "ff_depth_separable", "in_out_depth_separable",
             "gate_depth_separable", "tau_depth_separable", "ds_repeat", "cell_residual",
             "out_residual", "residual_to_cell_tau", "residual_to_cell_gate", "residual_to_out_tau",
             "residual_to_out_gate", "input_to_tau", "input_to_gate", "input_to_cell", "input_to_out",
             "cell_to_out", "layer_norm")
NUMBER_KEYS = ("tau_bias", "gate_bias", "tau_multiplier", "gate_multiplier", "tau_offset",
               "gate_offset", "norm_gain", "norm_shift")
ACTIVATION_KEYS = ("tau_nonlinearity", "gate_nonlinearity", "input_activation",
                   "feedback_activation", "cell_activation", "out_activation")
SIZE_KEYS = ("tau_filter_size", "gate_filter_size", "ff_filter_size", "in_out_filter_size",
             "cell_tau_filter_size", "feedback_filter_size")


def fail(key, message):
    raise ValueError(f"ReciprocalGatedCell: {key}: {message}")


def validate_config(args):
    """Check and normalise the constructor arguments; one readable ValueError per problem."""
    cfg = dict(args)
    if cfg["variant"] not in VARIANT_DEFAULTS:
        fail("variant", f"must be 'shallow' or 'median', got {cfg['variant']!r}")
    for key in FLAG_KEYS:
        if not isinstance(cfg[key], bool):
            fail(key, f"must be true or false, got {cfg[key]!r}")
    for key in NUMBER_KEYS:
        if isinstance(cfg[key], bool) or not isinstance(cfg[key], numbers.Real):
            fail(key, f"must be a number, got {cfg[key]!r}")
        cfg[key] = float(cfg[key])
    for key in ACTIVATION_KEYS:
        common.check_activation(cfg[key], f"ReciprocalGatedCell: {key}")
    if cfg["feedback_entry"] not in ENTRIES:
        fail("feedback_entry", f"must be one of {ENTRIES}, got {cfg['feedback_entry']!r}")
    for key, allowed in (("tau_gate_bias_mode", BIAS_MODES), ("clamp_kernel_size", CLAMP_MODES)):
        if cfg[key] is not None and cfg[key] not in allowed:
            fail(key, f"must be None or one of {allowed}, got {cfg[key]!r}")
    if cfg["temporal_conv_bias"] is not None and not isinstance(cfg["temporal_conv_bias"], bool):
        fail("temporal_conv_bias", f"must be None, true or false, got {cfg['temporal_conv_bias']!r}")
    for key in ("tau_filter_size", "gate_filter_size"):
        if cfg[key] is None:
            fail(key, "is required")
    for key in SIZE_KEYS:
        if cfg[key] is not None:
            where = f"ReciprocalGatedCell: {key}"
            cfg[key] = list(kernel_size(cfg[key], where, allow_zero=key == "gate_filter_size"))
    use_cell = cfg["gate_filter_size"] != [0, 0]
    if cfg["shape"] is not None:
        shape = cfg["shape"]
        if (not isinstance(shape, (list, tuple)) or len(shape) != 2
                or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                        for s in shape)):
            fail("shape", f"must be [H, W] with positive ints, got {shape!r}")
        cfg["shape"] = [int(s) for s in shape]
    for key, required in (("out_depth", False), ("cell_depth", use_cell)):
        value = cfg[key]
        if value is None:
            if required:
                fail(key, "is required when the cell is used (gate_filter_size != [0, 0])")
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            fail(key, f"must be a positive int, got {value!r}")
        cfg[key] = int(value)
    if use_cell and not (cfg["input_to_cell"] or cfg["cell_residual"]):
        fail("input_to_cell", "the cell needs an input: set input_to_cell or cell_residual")
    if (cfg["input_to_cell"] or cfg["cell_residual"]) and use_cell and cfg["ff_filter_size"] is None:
        fail("ff_filter_size", "is required with input_to_cell or cell_residual")
    if not use_cell:
        for key in ("input_to_gate", "residual_to_out_gate"):
            if cfg[key]:
                fail(key, "needs a gate filter, but gate_filter_size is [0, 0]")
        if cfg["feedback_entry"] == "cell":
            fail("feedback_entry", "'cell' needs the cell, but gate_filter_size is [0, 0]")
    for key in ("kernel_initializer", "bias_initializer"):
        common.initializer(cfg[key], cfg[key + "_kwargs"], where=f"ReciprocalGatedCell: {key}")
        cfg[key + "_kwargs"] = dict(cfg[key + "_kwargs"] or {})
    common.weight_decay_regularizer(cfg["weight_decay"], "ReciprocalGatedCell: weight_decay")
    return cfg


def check_map(shape, key, spatial=None, batch=None, note=""):
    """``shape`` as a tuple ``(B, H, W, C)`` with known, positive H, W and C; H, W must equal
    ``spatial`` and B ``batch`` (where both are known). ``note`` ends the spatial-mismatch error."""
    try:
        shape = tuple(shape)
    except TypeError:
        fail(key, f"expected a shape [B, H, W, C], got {shape!r}")
    if len(shape) != 4:
        fail(key, f"expected rank 4 [B, H, W, C], got {shape}")
    if any(s is None for s in shape[1:]):
        fail(key, f"H, W and C must be known, got {shape}")
    if any(int(s) < 1 for s in shape[1:]):
        fail(key, f"H, W and C must be positive, got {shape}")
    if spatial is not None and tuple(int(s) for s in shape[1:3]) != tuple(spatial):
        fail(key, f"spatial size {tuple(shape[1:3])} does not match the cell's {tuple(spatial)}{note}")
    if batch is not None and shape[0] is not None and int(shape[0]) != int(batch):
        fail(key, f"batch size {shape[0]} does not match the input's {batch} (shape {shape})")
    return shape


def check_feedback(shape, input_shape, config):
    """The feedback channel count for a ``[B, H, W, C_fb]`` ``shape`` (None: no feedback) given the
    checked ``input_shape`` and the cell's validated ``config``; raises when they do not fit."""
    if shape is None:
        return None
    shape = check_map(shape, "feedback_shape", input_shape[1:3], input_shape[0],
                      note=" (feedback must arrive at the cell's size: the harbor resizes it)")
    c_fb, depth = int(shape[3]), config["cell_depth"]
    if config["feedback_entry"] == "cell" and config["variant"] == "shallow" and c_fb != depth:
        fail("feedback_entry", f"'cell' with variant 'shallow' adds the feedback itself to its "
             f"projection (cells.py), so feedback_shape needs cell_depth ({depth}) channels, got "
             f"{c_fb} (shape {shape})")
    return c_fb


def clamp_kernel(size, spatial, mode, separable, clampable, size_key):
    """``size`` shrunk to the ``spatial`` size where the ``clamp_kernel_size`` ``mode`` applies to this
    conv (``clampable``: "all" may clamp it); an unclamped kernel larger than ``spatial`` fails."""
    clamp = (mode == "all" and clampable) or (mode == "separable" and separable)
    ksize = []
    for k, limit in zip(size, spatial):
        if k > limit and not clamp:
            fail(size_key, f"kernel {list(size)} is larger than the spatial size "
                 f"{list(spatial)} and is not clamped (clamp_kernel_size={mode!r})")
        ksize.append(min(k, limit) if clamp else k)
    return ksize


def check_call_inputs(feedback, res_input, spatial, c_fb, c_res):
    """``(feedback, res_input)`` of a call, checked against what the cell was built for (``spatial``
    H, W, ``c_fb`` feedback and ``c_res`` residual channels, None: not built for it); ``res_input`` is
    None when the cell has no residual path."""
    if feedback is not None:
        if c_fb is None:
            raise ValueError("ReciprocalGatedCell: got feedback but was built without feedback_shape")
        got, want = tuple(feedback.shape[1:]), (*spatial, c_fb)
        if len(got) != 3 or any(g is not None and g != w for g, w in zip(got, want)):
            raise ValueError(f"ReciprocalGatedCell: feedback has shape {tuple(feedback.shape)}, built "
                             f"for (B, {want[0]}, {want[1]}, {want[2]})")
    if res_input is None or c_res is None:
        return feedback, None
    if res_input.shape[-1] != c_res:
        raise ValueError(f"ReciprocalGatedCell: res_input has {res_input.shape[-1]} channels, "
                         f"built for {c_res}")
    return feedback, res_input


class ConvPath:
    """One convolution of the cell; weights are created on (and tracked by) the owning layer."""

    def __init__(self, key, config_key, in_channels, out_channels, ksize, separable, use_bias,
                 repeat=False, constant_bias=0.0):
        self.key = key  # internal name, also the Keras weight-name prefix
        self.config_key = config_key  # the constructor key that sets the filter size (for errors)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.ksize = tuple(ksize)
        self.separable = bool(separable)
        self.use_bias = bool(use_bias)
        self.repeat = bool(repeat) and self.separable
        self.constant_bias = float(constant_bias)
        self.weights = {}  # role -> keras Variable; roles: kernel | depthwise | depthwise_0 | pointwise | bias
        self.tf_names = {}  # role -> original TF variable name

    def shapes(self):
        kh, kw = self.ksize
        cin, cout = self.in_channels, self.out_channels
        if not self.separable:
            shapes = {"kernel": (kh, kw, cin, cout)}
        else:
            shapes = {"depthwise": (kh, kw, cin, 1), "pointwise": (1, 1, cin, cout)}
            if self.repeat:
                shapes["depthwise_0"] = (kh, kw, cin, 1)
        if self.use_bias:
            shapes["bias"] = (cout,)
        return shapes

    def set_tf_names(self, explicit_prefix=None, scope=None):
        """Name the weights ``<prefix>_weights/_bias`` (explicit) or ``<scope>/weights|...`` (scoped)."""
        names = {}
        if not self.separable and explicit_prefix is not None:
            names["kernel"] = f"{explicit_prefix}_weights"
            names["bias"] = f"{explicit_prefix}_bias"
        else:
            names = {
                "kernel": f"{scope}/weights",
                "depthwise": f"{scope}/depthwise_weights",
                "depthwise_0": f"{scope}/depthwise_weights_0",
                "pointwise": f"{scope}/pointwise_weights",
                "bias": f"{scope}/bias",
            }
        self.tf_names = {role: f"{TF_SCOPE}/{names[role]}" for role in self.shapes()}

    def __call__(self, x, dtype):
        w = {role: ops.cast(var, dtype) for role, var in self.weights.items()}
        if not self.separable:
            y = ops.conv(x, w["kernel"], strides=1, padding="same")
        else:
            if self.repeat:  # cells.py ``ds_repeat``: an extra depthwise conv + elu first
                x = ops.elu(ops.depthwise_conv(x, w["depthwise_0"], strides=1, padding="same"))
            y = ops.separable_conv(x, w["depthwise"], w["pointwise"], strides=1, padding="same")
        if self.use_bias:
            y = y + w["bias"]
        if self.constant_bias:
            y = y + ops.cast(self.constant_bias, dtype)
        return y


# --------------------------------------------------------------------------------------------------
# Hyper-parameters of the original models (from neuroailab/convrnns, see the project's spec §1.5,
# §4.7, §4.8). Hard-coded because the reference files are not shipped with the package.

#: ``median_rgcell_cfg.py`` ``median_config_dict["model_params"]["cell_params"]`` (activation names
#: stand for the TF functions of the same name; ``7.0``-style sizes written as ints).
MEDIAN_CELL_PARAMS = {
    "tau_depth_separable": True,
    "tau_filter_size": 7,
    "residual_to_out_gate": False,
    "feedback_activation": "elu",
    "residual_to_cell_gate": False,
    "out_residual": True,
    "feedback_depth_separable": True,
    "tau_nonlinearity": "sigmoid",
    "ff_depth_separable": False,
    "gate_nonlinearity": "tanh",
    "cell_to_out": False,
    "input_to_cell": True,
    "cell_residual": False,
    "in_out_depth_separable": False,
    "layer_norm": False,
    "input_activation": "elu",
    "ff_filter_size": 2,
    "feedback_filter_size": 8,
    "feedback_entry": "input",
    "input_to_out": True,
    "in_out_filter_size": 3,
    "tau_offset": 0.9219348064291611,
    "tau_multiplier": -0.9219348064291611,
    "tau_bias": 4.147336708899556,
    "out_activation": "elu",
    "weight_decay": 0.0002033999204146308,
    "kernel_initializer": "variance_scaling",
    "kernel_initializer_kwargs": {"scale": 0.6393378386273998},
    "cell_depth": 64,
    "gate_depth_separable": True,
    "gate_filter_size": 7,
    "gate_offset": 0.7006566684988862,
    "gate_multiplier": -0.7006566684988862,
    "gate_bias": 2.776542926439013,
    "cell_activation": "elu",
}

#: The four values ``model_func`` overrides when it builds ``rgc_intermediate*``.
RGC_INTERMEDIATE_OVERRIDES = {
    "feedback_activation": "identity",
    "feedback_entry": "out",
    "feedback_depth_separable": False,
    "feedback_filter_size": 1,
}

#: The memory dict of conv4..conv10 in ``rgc_intermediate.json`` (without ``function``); every key
#: is overwritten by `MEDIAN_CELL_PARAMS`.
RGC_INTERMEDIATE_JSON_MEMORY = {
    "cell_depth": 128,
    "tau_filter_size": [3, 3],
    "gate_filter_size": [3, 3],
    "feedback_entry": "out",
    "tau_nonlinearity": "sigmoid",
    "gate_nonlinearity": "sigmoid",
    "cell_activation": "elu",
    "out_activation": "elu",
    "cell_residual": False,
    "out_residual": False,
    "weight_decay": 0.0001,
}

#: The memory dict of the recurrent layers of ``rgc_shallow.json`` (without ``function``, ``shape``,
#: ``out_depth`` and ``cell_depth``: conv3 [28,28] 256/256, conv4 [14,14] 256/256, conv5 [7,7] 512/512).
RGC_SHALLOW_JSON_MEMORY = {
    "tau_filter_size": [3, 3],
    "gate_filter_size": [3, 3],
    "ff_filter_size": [3, 3],
    "input_to_cell": True,
    "residual_to_out_gate": True,
    "tau_offset": 1.0,
    "gate_offset": 1.0,
    "tau_bias": 0.0,
    "gate_bias": 0.0,
    "tau_multiplier": -1.0,
    "gate_multiplier": -1.0,
    "feedback_entry": "out",
    "tau_nonlinearity": "sigmoid",
    "gate_nonlinearity": "sigmoid",
    "cell_activation": "elu",
    "out_activation": "elu",
    "cell_residual": False,
    "out_residual": False,
    "weight_decay": 0.0001,
}

_SHALLOW_LAYERS = {"conv3": ([28, 28], 256), "conv4": ([14, 14], 256), "conv5": ([7, 7], 512)}


def median_config(shape=None, out_depth=None, rgc_intermediate=True, **overrides):
    """The merged cell kwargs of the "median" RGC (``variant="median"``).

    ``rgc_intermediate=True`` gives what ``rgc_intermediate*`` builds: its JSON memory dict, overridden
    by the median cell params, overridden by the four feedback values of ``model_func`` (identity,
    entry "out", not separable, 1x1). ``False`` gives the median cell params as published (feedback
    enters at the input through a depth-separable 8x8 conv with elu). ``shape``/``out_depth`` are
    what the original wrapper fills in (harbor size, pre-conv depth); further ``overrides`` win.
    """
    config = dict(RGC_INTERMEDIATE_JSON_MEMORY)
    config.update(MEDIAN_CELL_PARAMS)
    if rgc_intermediate:
        config.update(RGC_INTERMEDIATE_OVERRIDES)
    config["kernel_initializer_kwargs"] = dict(config["kernel_initializer_kwargs"])
    config.update(variant="median", shape=shape, out_depth=out_depth)
    config.update(overrides)
    return config


def shallow_config(layer="conv3", **overrides):
    """The cell kwargs of ``rgc_shallow``'s ``layer`` (conv3/conv4/conv5), ``variant="shallow"``."""
    if layer not in _SHALLOW_LAYERS:
        raise ValueError(f"shallow_config: layer must be one of {sorted(_SHALLOW_LAYERS)}, got {layer!r}")
    shape, depth = _SHALLOW_LAYERS[layer]
    config = dict(RGC_SHALLOW_JSON_MEMORY, shape=list(shape), out_depth=depth, cell_depth=depth)
    config["variant"] = "shallow"
    config.update(overrides)
    return config
