"""NumPy reference of one reciprocal-gated-cell step, written from the spec (§4.7 cells.py, §4.8 median).

It reads the weights by their *original* TF variable names (spec §8.4 / Appendix A, relative to
``tnn_model/<node>/ReciprocalGateCell/``), so it also checks the name mapping, and it checks the
kernel sizes it expects after the original's clamping. Everything is float64.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12

ACTS = {
    None: lambda v: v,
    "identity": lambda v: v,
    "linear": lambda v: v,
    "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "tanh": np.tanh,
}


def _pad_same(x, kh, kw):
    """TF SAME, stride 1: total padding k-1, the extra one (even k) at the bottom/right."""
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))


def conv_same(x, kernel):
    """``tf.nn.conv2d(x, kernel, [1,1,1,1], "SAME")``: x [B,H,W,Ci], kernel [kh,kw,Ci,Co]."""
    kh, kw = kernel.shape[:2]
    xp = _pad_same(x, kh, kw)
    h, w = x.shape[1:3]
    out = np.zeros(x.shape[:3] + (kernel.shape[3],))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("bhwc,cd->bhwd", xp[:, i:i + h, j:j + w, :], kernel[i, j])
    return out


def depthwise_same(x, kernel):
    """``tf.nn.depthwise_conv2d`` with multiplier 1: kernel [kh,kw,C,1]."""
    kh, kw = kernel.shape[:2]
    xp = _pad_same(x, kh, kw)
    h, w = x.shape[1:3]
    out = np.zeros(x.shape)
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + h, j:j + w, :] * kernel[i, j, :, 0]
    return out


def layer_norm(v, gamma, beta):
    """TF-contrib layer norm over H, W, C jointly with per-channel gamma/beta."""
    mean = v.mean(axis=(1, 2, 3), keepdims=True)
    var = ((v - mean) ** 2).mean(axis=(1, 2, 3), keepdims=True)
    return (v - mean) / np.sqrt(var + EPS) * gamma + beta


def _ksize(v):
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return [int(v), int(v)]
    return [int(a) for a in v]


class Reference:
    """``step(x, (c, h) or (h,), fb, r) -> (out, new_state)`` for one cell config and weight dict."""

    def __init__(self, cfg, weights):
        self.cfg = dict(cfg)
        self.w = {k.split("ReciprocalGateCell/", 1)[-1]: np.asarray(v, np.float64) for k, v in weights.items()}
        self.used = set()
        self.median = self.cfg.get("variant", "shallow") == "median"

    def get(self, key, default=None):
        return self.cfg.get(key, default)

    def _weight(self, name, spatial_k=None):
        self.used.add(name)
        value = self.w[name]  # KeyError = variable missing or misnamed
        if spatial_k is not None:
            assert list(value.shape[:2]) == list(spatial_k), (name, value.shape, spatial_k)
        return value

    def _expected_k(self, size, separable, clamp_full):
        hw = self.spatial
        if separable or clamp_full:  # _ds_conv always clamps; cells.py _conv clamps too
            return [min(size[0], hw[0]), min(size[1], hw[1])]
        return size

    def _ds(self, inp, scope, size, bias, repeat):
        k = self._expected_k(size, True, True)
        if repeat:
            inp = ACTS["elu"](depthwise_same(inp, self._weight(f"{scope}/depthwise_weights_0", k)))
        out = depthwise_same(inp, self._weight(f"{scope}/depthwise_weights", k))
        out = np.einsum("bhwc,cd->bhwd", out, self._weight(f"{scope}/pointwise_weights", [1, 1])[0, 0])
        if bias:
            out = out + self._weight(f"{scope}/bias")
        return out

    def temporal(self, inp, stage, scope, prefix, size, separable, const=0.0, ds_bias=True):
        """cells.py ``_apply_temporal_op`` (shallow) or the median's explicit var / ``_ds_conv``."""
        if separable:
            out = self._ds(inp, f"{stage}/{scope}", size, ds_bias, bool(self.get("ds_repeat")))
            return out
        if not self.median:  # cells.py _conv: clamped, NO bias
            return conv_same(inp, self._weight(f"{stage}/{scope}/weights", self._expected_k(size, False, True)))
        out = conv_same(inp, self._weight(f"{stage}/{prefix}_weights", size))
        return out + self._weight(f"{stage}/{prefix}_bias") + const

    def plain(self, inp, name, size):
        """Explicit kernel, no bias (median input_to_tau/gate, residual_to_*)."""
        return conv_same(inp, self._weight(name, self._expected_k(size, False, not self.median)))

    def step(self, x, state, fb=None, r=None):
        g = self.get
        act = {k: ACTS[g(k, d)] for k, d in (
            ("input_activation", "identity"), ("feedback_activation", "identity"),
            ("cell_activation", "elu"), ("out_activation", "elu"),
            ("tau_nonlinearity", "tanh"), ("gate_nonlinearity", "tanh"))}
        self.spatial = list(x.shape[1:3])
        tau_k = _ksize(g("tau_filter_size"))
        ctau_k = _ksize(g("cell_tau_filter_size")) or tau_k
        gate_k = _ksize(g("gate_filter_size"))
        ff_k = _ksize(g("ff_filter_size"))
        fb_k = _ksize(g("feedback_filter_size", [3, 3]))
        io_k = _ksize(g("in_out_filter_size", [3, 3]))
        tau_sep, gate_sep = g("tau_depth_separable", False), g("gate_depth_separable", False)
        fb_sep, ff_sep = g("feedback_depth_separable", False), g("ff_depth_separable", False)
        io_sep = g("in_out_depth_separable", False)
        entry = g("feedback_entry", "out")
        med = self.median
        t_off, t_k, g_off, g_k = (g("tau_offset", 1.0), g("tau_multiplier", -1.0),
                                  g("gate_offset", 1.0), g("gate_multiplier", -1.0))
        tau_b = g("tau_bias", 0.0) if med else 0.0   # cells.py never uses them
        gate_b = g("gate_bias", 0.0) if med else 0.0
        use_cell = gate_k != [0, 0]
        if use_cell:
            c, h = state
        else:
            (h,) = state
            c = None

        # input stage
        if fb is not None and entry == "input":
            x = x + act["feedback_activation"](
                self.temporal(fb, "input", "feedback", "feedback_to_input", fb_k, fb_sep))
        x = act["input_activation"](x)

        new_state = []
        if use_cell:
            cell_in = 0.0
            if g("cell_residual"):
                cell_in = cell_in + self.temporal(r, "cell", "res_to_cell", "residual_to_cell", ff_k, ff_sep)
            if g("input_to_cell"):
                cell_in = cell_in + self.temporal(x, "cell", "input_to_cell", "input_to_cell", ff_k, ff_sep)
            if fb is not None and entry == "cell":
                t = self.temporal(fb, "cell", "feedback", "feedback_to_cell", fb_k, fb_sep)
                if not med:
                    t = fb + t  # cells.py bug: fb_input += T(fb_input)
                cell_in = cell_in + act["feedback_activation"](t)
            tau = self.temporal(c, "cell", "tau", "cell_to_cell", ctau_k, tau_sep, const=tau_b)
            gate = self.temporal(h, "cell", "gate" if not med else "out_to_cell", "out_to_cell",
                                 gate_k, gate_sep, const=gate_b)
            if g("input_to_tau"):
                tau = tau + self.plain(x, "cell/input_to_cell_tau_weights", ctau_k)
            if g("residual_to_cell_tau"):
                tau = tau + self.plain(r, "cell/residual_to_cell_tau_weights", ctau_k)
            if g("input_to_gate"):
                gate = gate + self.plain(x, "cell/input_to_cell_gate_weights", gate_k)
            if g("residual_to_cell_gate"):
                gate = gate + self.plain(r, "cell/residual_to_cell_gate_weights", gate_k)
            new_c = (t_off + t_k * act["tau_nonlinearity"](tau)) * c + (
                g_off + g_k * act["gate_nonlinearity"](gate)) * cell_in
            if g("layer_norm"):
                scope = "cell/layer_norm" if med else "cell/cell_layer_norm"
                new_c = layer_norm(new_c, self._weight(f"{scope}/gamma"), self._weight(f"{scope}/beta"))
            new_state.append(act["cell_activation"](new_c))

        # out stage
        if g("input_to_out"):
            if io_sep:
                o_in = self._ds(x, "out/input_to_out", io_k, True, bool(g("ds_repeat")))
            else:
                o_in = conv_same(x, self._weight("out/input_to_out_weights", io_k))
                if med:  # cells.py creates input_to_out_bias but never adds it
                    o_in = o_in + self._weight("out/input_to_out_bias")
        else:
            o_in = x
        if use_cell and g("cell_to_out"):
            o_in = o_in + self.temporal(c, "out", "gate" if not med else "cell_to_out", "cell_to_out",
                                        gate_k, gate_sep, const=gate_b)
        if g("out_residual") and r is not None:
            if r.shape[-1] == o_in.shape[-1]:
                o_in = o_in + r
            else:
                name = "out/residual_add_weights" if med else "out/res_add/residual_add_weights"
                o_in = o_in + conv_same(r, self._weight(name, [1, 1]))
        if fb is not None and entry == "out":
            o_in = o_in + act["feedback_activation"](
                self.temporal(fb, "out", "feedback", "feedback_to_out", fb_k, fb_sep))
        tau = self.temporal(h, "out", "tau", "out_to_out", tau_k, tau_sep, const=tau_b)
        if use_cell and not g("cell_to_out"):
            gate = self.temporal(c, "out", "gate", "cell_to_out", gate_k, gate_sep, const=gate_b)
        else:
            gate = np.zeros_like(o_in)
        if g("input_to_tau"):
            tau = tau + self.plain(x, "out/input_to_out_tau_weights", tau_k)
        if g("residual_to_out_tau"):
            tau = tau + self.plain(r, "out/residual_to_out_tau_weights", tau_k)
        if g("input_to_gate"):
            gate = gate + self.plain(x, "out/input_to_out_gate_weights", gate_k)
        if g("residual_to_out_gate") and r is not None:
            if gate_sep:  # median: _ds_conv(bias=False); cells.py: temporal op with bias
                gate = gate + self._ds(r, "out/residual_to_out_gate", gate_k, not med, bool(g("ds_repeat")))
            elif med:
                gate = gate + self.plain(r, "out/residual_to_out_gate_weights", gate_k)
            else:
                gate = gate + self.temporal(r, "out", "residual_to_out_gate", None, gate_k, False)
        new_h = (t_off + t_k * act["tau_nonlinearity"](tau)) * h + (
            g_off + g_k * act["gate_nonlinearity"](gate)) * o_in
        if g("layer_norm"):
            scope = "out/layer_norm" if med else "out/out_layer_norm"
            new_h = layer_norm(new_h, self._weight(f"{scope}/gamma"), self._weight(f"{scope}/beta"))
        new_h = act["out_activation"](new_h)
        new_state.append(new_h)
        return new_h, tuple(new_state)

    def unused(self):
        """Weight names the reference never read (should be empty)."""
        return sorted(set(self.w) - self.used)
