"""Reciprocal gated cell (RGC) of Nayebi et al. 2018, both original code versions (spec §4.7, §4.8).

One step, with ``x`` the pre-memory output, ``r`` the ``res_input`` and ``fb`` the feedback
(``[...]`` = only with that option; ``a_tau = tau_offset + tau_multiplier * tau``, same for gate)::

    x       = input_activation(x [+ feedback_activation(T_fb(fb)) at "input"])
    cell_in = [T_res_to_cell(r)] + [T_input_to_cell(x)] + [feedback_activation(T_fb(fb)) at "cell"]
    tau_c   = tau_nl(T_tau(c) [+ T(x) input_to_tau] [+ T(r) residual_to_cell_tau])
    gate_c  = gate_nl(T_gate(h) [+ T(x) input_to_gate] [+ T(r) residual_to_cell_gate])
    c'      = cell_act(LN?(a_tau(tau_c) * c + a_gate(gate_c) * cell_in))
    o_in    = (T_input_to_out(x) or x) [+ T_cell_to_out(c)] [+ r or 1x1(r) out_residual]
              [+ feedback_activation(T_fb(fb)) at "out"]
    tau_h   = tau_nl(T_tau(h) [+ T(x) input_to_tau] [+ T(r) residual_to_out_tau])
    gate_h  = gate_nl((T_gate(c), or 0 with cell_to_out) [+ T(x) input_to_gate]
                      [+ T(r) residual_to_out_gate])
    h'      = out_act(LN?(a_tau(tau_h) * h + a_gate(gate_h) * o_in))

Output ``h'`` (compute dtype). States are the tuple ``(c, h)`` in float32 (``concat([c, h], -1)`` is
the original's state, c first), or ``(h,)`` when ``gate_filter_size`` is ``[0, 0]`` (no cell). The
``T`` are stride-1 TF-SAME convolutions, full or depth-separable per the ``*_depth_separable``
flags; ``input_to_tau``, ``input_to_gate`` and the ``residual_to_*`` terms other than
``residual_to_out_gate`` are always full convs without bias. LN is the original's joint (H, W, C)
layer norm with per-channel gamma/beta (``norm_gain``/``norm_shift``), applied before the activation.
"""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells import common
from convrnn_tf.cells.base import ConvRNNCell
from convrnn_tf.cells.layer_norm import joint_layer_norm
from convrnn_tf.cells.reciprocal_gated_ops import (
    ACTIVATION_KEYS,
    TF_SCOPE,
    VARIANT_DEFAULTS,
    ConvPath,
    check_call_inputs,
    check_feedback,
    check_map,
    clamp_kernel,
    fail,
    median_config,
    shallow_config,
    validate_config,
)
from convrnn_tf.cells.registry import register

__all__ = ["ReciprocalGatedCell", "median_config", "shallow_config"]


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("rgc")
class ReciprocalGatedCell(ConvRNNCell):
    """The reciprocal gated cell with every option of both originals (see the module docstring).

    Takes the original memory-dict keys (``shape``, ``out_depth``, ``cell_depth``, ``*_filter_size`` as
    ``k``, ``k.0`` or ``[kh, kw]``, flags, string activations, ``kernel_initializer`` + kwargs,
    ``weight_decay`` as L2(wd/2) on every kernel, not on biases, layer-norm γ/β or the residual
    projection). ``shape=None`` takes H, W from the input and ``out_depth=None`` its channel count
    (what the original wrapper fills in). Filter sizes default to the originals' (tau and gate are
    required; ``cell_tau_filter_size`` defaults to ``tau_filter_size``; ``gate_filter_size=[0, 0]``
    drops the cell state).

    Original code version (``variant``, default ``"shallow"``, because the original builds every RGC
    with cells.py except through the median config, see `median_config`):

    * ``"shallow"``: ``cells.py::ReciprocalGateCell`` (``rgc_shallow``). Variable names as in its
      checkpoints; feedback entering at "cell" is ``feedback_activation(fb + T_fb(fb))`` (a bug there,
      needs C_fb == cell_depth); a depth-separable ``residual_to_out_gate`` has a bias.
    * ``"median"``: ``median_rgcell.py`` (``rgc_intermediate*``, see `median_config`). Feedback at "cell"
      is ``feedback_activation(T_fb(fb))``; a depth-separable ``residual_to_out_gate`` has no bias.

    The variant sets the defaults of three finer options (``None`` = the variant's value):

    * ``temporal_conv_bias``: whether the full (non-separable) convs of the cell have a learned bias
      (tau, gate, input_to_cell, res_to_cell, feedback, cell_to_out, input_to_out). shallow: False
      (cells.py creates none, and creates but never adds ``input_to_out_bias``; that unused variable is
      not created here), median: True. Depth-separable convs always have one, except as said above.
    * ``tau_gate_bias_mode``: where the constants ``tau_bias``/``gate_bias`` are added to the tau/gate
      conv outputs: ``"unused"`` (shallow), ``"non_separable"`` (median: only on full convs, so the
      median config's values have no effect), ``"all"``.
    * ``clamp_kernel_size``: kernels larger than ``shape`` are shrunk to it: ``"all"`` (shallow: every
      conv but a full ``input_to_out``), ``"separable"`` (median), ``"none"``. An unclamped kernel
      larger than ``shape`` is rejected.

    When a residual path is on, the cell needs the ``res_input`` channel count: pass
    ``res_input_shape`` to `build`. `original_variable_map` maps the original checkpoint names
    (relative to ``tnn_model/<node>/``) to the Keras variables. Feedback must arrive at the cell's
    H, W (the harbor resizes it); the original's VALID "fully connected" feedback for mismatched
    sizes is not supported, nor are batch norm and recurrent dropout (unused by every released
    model). Initialisation of the cells.py depth-separable biases (xavier there) uses
    ``bias_initializer`` here.
    """

    takes_feedback = True

    def __init__(self, shape=None, out_depth=None, cell_depth=None, tau_filter_size=None,
                 gate_filter_size=None, ff_filter_size=None, in_out_filter_size=(3, 3),
                 cell_tau_filter_size=None, feedback_filter_size=(3, 3), feedback_entry="out",
                 feedback_depth_separable=False, ff_depth_separable=False,
                 in_out_depth_separable=False, gate_depth_separable=False,
                 tau_depth_separable=False, ds_repeat=False, tau_nonlinearity="tanh",
                 gate_nonlinearity="tanh", tau_bias=0.0, gate_bias=0.0, tau_multiplier=-1.0,
                 gate_multiplier=-1.0, tau_offset=1.0, gate_offset=1.0,
                 input_activation="identity", feedback_activation="identity",
                 cell_activation="elu", out_activation="elu", cell_residual=False,
                 out_residual=False, residual_to_cell_tau=False, residual_to_cell_gate=False,
                 residual_to_out_tau=False, residual_to_out_gate=False, input_to_tau=False,
                 input_to_gate=False, input_to_cell=False, input_to_out=False, cell_to_out=False,
                 kernel_initializer="xavier", kernel_initializer_kwargs=None,
                 bias_initializer="zeros", bias_initializer_kwargs=None, weight_decay=None,
                 layer_norm=False, norm_gain=1.0, norm_shift=0.0, variant="shallow",
                 temporal_conv_bias=None, tau_gate_bias_mode=None, clamp_kernel_size=None,
                 **kwargs):
        args = dict(locals())
        for key in ("self", "kwargs", "__class__"):
            args.pop(key, None)
        config = validate_config(args)
        super().__init__(**kwargs)
        self._rgc_config = config
        for key, value in config.items():
            setattr(self, "_" + key, value)
        self._use_cell = self._gate_filter_size != [0, 0]
        if self._cell_tau_filter_size is None:
            self._cell_tau_filter_size = self._tau_filter_size
        resolved = dict(VARIANT_DEFAULTS[variant])
        resolved.update({k: self._rgc_config[k] for k in resolved if self._rgc_config[k] is not None})
        self._bias_on_full = resolved["temporal_conv_bias"]
        self._bias_mode = resolved["tau_gate_bias_mode"]
        self._clamp = resolved["clamp_kernel_size"]
        self._act = {k: common.activation(self._rgc_config[k], k) for k in ACTIVATION_KEYS}
        self._paths = {}
        self._norms = {}
        self._tf_names = {}

    # ---------------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        for key, value in self._rgc_config.items():
            config[key] = list(value) if isinstance(value, (list, tuple)) else value
        config["kernel_initializer_kwargs"] = dict(self._kernel_initializer_kwargs)
        config["bias_initializer_kwargs"] = dict(self._bias_initializer_kwargs)
        return config

    def get_build_config(self):
        if not self.built:
            return None
        shapes = (self._build_input_shape, self._build_feedback_shape, self._build_res_shape)
        keys = ("input_shape", "feedback_shape", "res_input_shape")
        return {k: None if s is None else list(s) for k, s in zip(keys, shapes)}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            self.build(config["input_shape"], config.get("feedback_shape"), config.get("res_input_shape"))

    # ---------------------------------------------------------------------------------- shapes
    @property
    def use_cell(self):
        return self._use_cell

    def _out_channels(self, input_shape):
        return self._out_depth if self._out_depth is not None else int(input_shape[-1])

    def state_shapes(self, input_shape):
        shape = self._shape if self._shape is not None else list(input_shape[1:3])
        h = (int(shape[0]), int(shape[1]), self._out_channels(input_shape))
        return ((h[0], h[1], self._cell_depth), h) if self._use_cell else (h,)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return input_shape[:3] + (self._out_channels(input_shape),)

    # ---------------------------------------------------------------------------------- build
    @property
    def needs_res_input(self) -> bool:
        """Whether a residual path is on (the node must keep a conv input, ``return_input``)."""
        return bool(self._out_residual or self._residual_to_out_tau or self._residual_to_out_gate
                    or (self._use_cell and (self._cell_residual or self._residual_to_cell_tau
                                            or self._residual_to_cell_gate)))

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        """Create the weights; ``res_input_shape`` is required when a residual path is on."""
        input_shape = check_map(input_shape, "input_shape", self._shape)
        self._spatial = tuple(int(s) for s in input_shape[1:3])
        c_in = int(input_shape[3])
        c_out = self._out_channels(input_shape)
        if not self._input_to_out and c_in != c_out:
            fail("out_depth", f"is {c_out} but the input has {c_in} channels and input_to_out is off")
        c_fb = check_feedback(feedback_shape, input_shape, self._rgc_config)
        use = self._use_cell
        c_res = None
        if self.needs_res_input:
            if res_input_shape is None:
                fail("res_input_shape", "a residual path is on, so build() needs res_input_shape")
            res_input_shape = check_map(res_input_shape, "res_input_shape", self._spatial,
                                        input_shape[0])
            c_res = int(res_input_shape[3])
        else:
            res_input_shape = None
        self._c_fb, self._c_res = c_fb, c_res
        self._build_res_shape = None if res_input_shape is None else tuple(res_input_shape)
        shallow = self._variant == "shallow"
        d, fb_entry = self._cell_depth, self._feedback_entry
        k_tau, k_ctau, k_gate = self._tau_filter_size, self._cell_tau_filter_size, self._gate_filter_size
        ctau_key = "cell_tau_filter_size" if self._rgc_config["cell_tau_filter_size"] else "tau_filter_size"
        tau_sep, gate_sep = self._tau_depth_separable, self._gate_depth_separable

        # (key, stage, shallow scope, median ds scope, median prefix) name the original variables.
        if c_fb is not None and fb_entry == "input":
            self._conv("feedback_to_input", "feedback_filter_size", c_fb, c_in, self._feedback_filter_size,
                       self._feedback_depth_separable, "input", "feedback", "feedback")
        if use:
            if self._cell_residual:
                self._conv("residual_to_cell", "ff_filter_size", c_res, d, self._ff_filter_size,
                           self._ff_depth_separable, "cell", "res_to_cell", "res_to_cell")
            if self._input_to_cell:
                self._conv("input_to_cell", "ff_filter_size", c_in, d, self._ff_filter_size,
                           self._ff_depth_separable, "cell", "input_to_cell", "input_to_cell")
            if c_fb is not None and fb_entry == "cell":
                self._conv("feedback_to_cell", "feedback_filter_size", c_fb, d, self._feedback_filter_size,
                           self._feedback_depth_separable, "cell", "feedback", "feedback")
            self._conv("cell_to_cell", ctau_key, d, d, k_ctau, tau_sep, "cell", "tau", "tau",
                       constant=self._tau_bias)
            self._conv("out_to_cell", "gate_filter_size", c_out, d, k_gate, gate_sep, "cell", "gate",
                       "out_to_cell", constant=self._gate_bias)
            for flag, key, src, size, size_key in (
                    ("input_to_tau", "input_to_cell_tau", c_in, k_ctau, ctau_key),
                    ("residual_to_cell_tau", "residual_to_cell_tau", c_res, k_ctau, ctau_key),
                    ("input_to_gate", "input_to_cell_gate", c_in, k_gate, "gate_filter_size"),
                    ("residual_to_cell_gate", "residual_to_cell_gate", c_res, k_gate, "gate_filter_size")):
                if getattr(self, "_" + flag):
                    self._conv(key, size_key, src, d, size, False, "cell", None, None, bias=False)
            if self._layer_norm:
                self._norm("cell", d, "cell/cell_layer_norm" if shallow else "cell/layer_norm")
        if self._input_to_out:
            self._conv("input_to_out", "in_out_filter_size", c_in, c_out, self._in_out_filter_size,
                       self._in_out_depth_separable, "out", None, "input_to_out",
                       clampable=self._in_out_depth_separable)
        if use and self._cell_to_out:
            self._conv("cell_to_out", "gate_filter_size", d, c_out, k_gate, gate_sep, "out", "gate",
                       "cell_to_out", constant=self._gate_bias)
        if self._out_residual and c_res != c_out:
            self._conv("residual_add", "out_residual", c_res, c_out, (1, 1), False, "out", None,
                       None, bias=False, tf_prefix="res_add/residual_add" if shallow else "residual_add",
                       kernel_init=keras.initializers.GlorotUniform(), regularize=False)
        if c_fb is not None and fb_entry == "out":
            self._conv("feedback_to_out", "feedback_filter_size", c_fb, c_out, self._feedback_filter_size,
                       self._feedback_depth_separable, "out", "feedback", "feedback")
        self._conv("out_to_out", "tau_filter_size", c_out, c_out, k_tau, tau_sep, "out", "tau", "tau",
                   constant=self._tau_bias)
        if use and not self._cell_to_out:
            self._conv("out_gate", "gate_filter_size", d, c_out, k_gate, gate_sep, "out", "gate", "gate",
                       constant=self._gate_bias, tf_prefix="cell_to_out")
        for flag, key, src, size, size_key in (
                ("input_to_tau", "input_to_out_tau", c_in, k_tau, "tau_filter_size"),
                ("residual_to_out_tau", "residual_to_out_tau", c_res, k_tau, "tau_filter_size"),
                ("input_to_gate", "input_to_out_gate", c_in, k_gate, "gate_filter_size")):
            if getattr(self, "_" + flag):
                self._conv(key, size_key, src, c_out, size, False, "out", None, None, bias=False)
        if self._residual_to_out_gate:
            self._conv("residual_to_out_gate", "gate_filter_size", c_res, c_out, k_gate, gate_sep, "out",
                       "residual_to_out_gate", "residual_to_out_gate", bias=gate_sep and shallow)
        if self._layer_norm:
            self._norm("out", c_out, "out/out_layer_norm" if shallow else "out/layer_norm")
        super().build(input_shape, feedback_shape)

    def _conv(self, key, size_key, c_from, c_to, size, separable, stage, shallow_scope, median_scope,
              bias=None, constant=0.0, clampable=True, tf_prefix=None, kernel_init=None, regularize=True):
        """Add one conv path; ``bias=None`` means the variant's rule (always on separable convs)."""
        ksize = clamp_kernel(size, self._spatial, self._clamp, separable, clampable, size_key)
        if bias is None:
            bias = separable or self._bias_on_full
        if not (self._bias_mode == "all" or (self._bias_mode == "non_separable" and not separable)):
            constant = 0.0
        path = ConvPath(key, size_key, c_from, c_to, ksize, separable, bias,
                        repeat=self._ds_repeat, constant_bias=constant)
        prefix = tf_prefix or key
        if self._variant == "shallow":
            scope = shallow_scope or median_scope or prefix
            explicit = None if shallow_scope is not None else prefix
        else:
            scope, explicit = median_scope or prefix, prefix
        path.set_tf_names(explicit_prefix=f"{stage}/{explicit}" if explicit else None,
                          scope=f"{stage}/{scope}")
        reg = common.weight_decay_regularizer(self._weight_decay) if regularize else None
        for role, shape in path.shapes().items():
            if role == "bias":
                init = common.initializer(self._bias_initializer, self._bias_initializer_kwargs)
            else:
                init = kernel_init or common.initializer(self._kernel_initializer,
                                                         self._kernel_initializer_kwargs)
            path.weights[role] = self.add_weight(
                name=f"{key}_{role}", shape=shape, initializer=init,
                regularizer=None if role == "bias" else reg, dtype="float32")
            self._tf_names[path.tf_names[role]] = path.weights[role]
        self._paths[key] = path

    def _norm(self, stage, channels, tf_scope):
        gamma = self.add_weight(name=f"{stage}_layer_norm_gamma", shape=(channels,), dtype="float32",
                                initializer=keras.initializers.Constant(self._norm_gain), autocast=False)
        beta = self.add_weight(name=f"{stage}_layer_norm_beta", shape=(channels,), dtype="float32",
                               initializer=keras.initializers.Constant(self._norm_shift), autocast=False)
        self._norms[stage] = (gamma, beta)
        self._tf_names[f"{TF_SCOPE}/{tf_scope}/gamma"] = gamma
        self._tf_names[f"{TF_SCOPE}/{tf_scope}/beta"] = beta

    def original_variable_map(self):
        """``{original TF variable name relative to tnn_model/<node>/: Keras variable}``."""
        if not self.built:
            raise ValueError("ReciprocalGatedCell: original_variable_map() needs a built cell")
        return dict(self._tf_names)

    # ---------------------------------------------------------------------------------- call
    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        dt = self.compute_dtype
        paths, act = self._paths, self._act
        x = ops.cast(inputs, dt)
        states = tuple(ops.cast(s, dt) for s in states)
        c_prev, h_prev = states if self._use_cell else (None, states[0])
        feedback, res_input = check_call_inputs(feedback, res_input, self._spatial, self._c_fb, self._c_res)
        fb = None if feedback is None else ops.cast(feedback, dt)
        r = None if res_input is None else ops.cast(res_input, dt)

        def run(key, value):
            return paths[key](value, dt)

        def add(total, term):
            return term if total is None else total + term

        entry = self._feedback_entry
        if fb is not None and entry == "input":
            x = x + act["feedback_activation"](run("feedback_to_input", fb))
        x = act["input_activation"](x)

        new_states = ()
        if self._use_cell:
            cell_in = None
            if self._cell_residual:
                if r is None:
                    raise ValueError("ReciprocalGatedCell: cell_residual needs res_input")
                cell_in = add(cell_in, run("residual_to_cell", r))
            if self._input_to_cell:
                cell_in = add(cell_in, run("input_to_cell", x))
            if fb is not None and entry == "cell":
                term = run("feedback_to_cell", fb)
                if self._variant == "shallow":  # cells.py: ``fb_input += T(fb_input)``
                    term = fb + term
                cell_in = add(cell_in, act["feedback_activation"](term))
            tau = run("cell_to_cell", c_prev)
            gate = run("out_to_cell", h_prev)
            if self._input_to_tau:
                tau = tau + run("input_to_cell_tau", x)
            if self._residual_to_cell_tau and r is not None:
                tau = tau + run("residual_to_cell_tau", r)
            if self._input_to_gate:
                gate = gate + run("input_to_cell_gate", x)
            if self._residual_to_cell_gate and r is not None:
                gate = gate + run("residual_to_cell_gate", r)
            c = self._mix(tau, gate, c_prev, cell_in, "cell")
            new_states = (ops.cast(c, "float32"),)

        o_in = run("input_to_out", x) if self._input_to_out else x
        if self._use_cell and self._cell_to_out:
            o_in = o_in + run("cell_to_out", c_prev)
        if self._out_residual and r is not None:
            o_in = o_in + (run("residual_add", r) if "residual_add" in paths else r)
        if fb is not None and entry == "out":
            o_in = o_in + act["feedback_activation"](run("feedback_to_out", fb))
        tau = run("out_to_out", h_prev)
        gate = run("out_gate", c_prev) if "out_gate" in paths else None
        if self._input_to_tau:
            tau = tau + run("input_to_out_tau", x)
        if self._residual_to_out_tau and r is not None:
            tau = tau + run("residual_to_out_tau", r)
        if self._input_to_gate:
            gate = add(gate, run("input_to_out_gate", x))
        if self._residual_to_out_gate and r is not None:
            gate = add(gate, run("residual_to_out_gate", r))
        if gate is None:
            gate = ops.zeros_like(h_prev)
        h = self._mix(tau, gate, h_prev, o_in, "out")
        return h, new_states + (ops.cast(h, "float32"),)

    def _mix(self, tau, gate, prev, inp, stage):
        """``act(LN?((tau_offset + tau_mult*tau_nl(tau))*prev + (gate_offset + gate_mult*gate_nl(gate))*inp))``."""
        tau = self._act["tau_nonlinearity"](tau)
        gate = self._act["gate_nonlinearity"](gate)
        new = ((self._tau_offset + self._tau_multiplier * tau) * prev
               + (self._gate_offset + self._gate_multiplier * gate) * inp)
        if stage in self._norms:
            new = joint_layer_norm(new, *self._norms[stage], epsilon=1e-12)  # TF-contrib eps
        return self._act["cell_activation" if stage == "cell" else "out_activation"](new)
