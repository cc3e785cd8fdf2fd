"""Convolutional GRU (original ``cells.py::ConvGRUCell``, doc section 4.3)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_utils import ConvCellBase, cell_arguments
from convrnn_tf.cells.registry import register


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("gru")
class ConvGRU(ConvCellBase):
    """Conv GRU; as in the original, ``forget_bias`` is added to the **reset** gate.

    Per step, with ``act`` = ``activation`` (tanh)::

        [r_pre, u_pre] = split2(conv(concat([x, h]), gates/weights) + gates/bias)
        if layer_norm: r_pre, u_pre = LN_r_pre(r_pre), LN_u_pre(u_pre)
        r = sigmoid(r_pre + forget_bias);  u = sigmoid(u_pre)
        c_pre = conv(concat([x, r * h]), candidates/weights) + candidates/bias
        if layer_norm: c_pre = LN_c_pre(c_pre)
        h' = u * h + (1 - u) * act(c_pre);  output = state = h'

    State: ``(h,)``, float32 ``[B, H, W, C]`` (the original's single state tensor).

    Weights (original names relative to ``tnn_model/<node>/ConvGRUCell/``):
    ``<cell>/gates/weights`` ``[kh, kw, C_x + C, 2C]`` (rows x|h, columns r|u) and
    ``<cell>/gates/bias`` ``[2C]`` = ``gates/{weights,bias}``; ``<cell>/candidates/weights``
    ``[kh, kw, C_x + C, C]`` and ``<cell>/candidates/bias`` ``[C]`` = ``candidates/{weights,bias}``;
    with layer_norm ``<cell>/{r_pre,u_pre}/{gamma,beta}`` = ``gates/{r_pre,u_pre}/{gamma,beta}`` and
    ``<cell>/c_pre/{gamma,beta}`` = ``candidates/c_pre/{gamma,beta}``.

    Weight decay ``wd`` is ``L2(wd/2)`` on both kernels and both biases. With
    ``bias_initializer=None`` the gates bias starts at 1.0 and the candidates bias at 0 (the
    original); a configured bias initializer is used for both.
    """

    def __init__(self, shape=None, filter_size=None, out_depth=None, weight_decay=0.0,
                 forget_bias=1.0, activation="tanh", kernel_initializer=None,
                 kernel_initializer_kwargs=None, bias_initializer=None, bias_initializer_kwargs=None,
                 layer_norm=False, norm_gain=1.0, norm_shift=0.0, **kwargs):
        super().__init__(**cell_arguments(locals()))

    def _build_weights(self, spatial, in_depth):
        c, reg = self.out_depth, self._l2()
        self.gates = self._conv_layer("gates", 2 * c, in_depth + c, spatial, 1.0, reg, reg)
        if self.layer_norm:
            self.ln_r, self.ln_u = self._layer_norms(("r_pre", "u_pre"), spatial)
        self.candidates = self._conv_layer("candidates", c, in_depth + c, spatial, 0.0, reg, reg)
        if self.layer_norm:
            (self.ln_c,) = self._layer_norms(("c_pre",), spatial)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        cdt = x.dtype
        z = ops.cast(self.gates(ops.concatenate([x, ops.cast(h, cdt)], axis=-1)), "float32")
        r_pre, u_pre = ops.split(z, 2, axis=-1)
        if self.layer_norm:
            r_pre, u_pre = self.ln_r(r_pre), self.ln_u(u_pre)
        r = ops.sigmoid(r_pre + self.forget_bias)
        u = ops.sigmoid(u_pre)
        c_pre = self.candidates(ops.concatenate([x, ops.cast(r * h, cdt)], axis=-1))
        c_pre = ops.cast(c_pre, "float32")
        if self.layer_norm:
            c_pre = self.ln_c(c_pre)
        new_h = u * h + (1.0 - u) * self._activation(c_pre)
        return ops.cast(new_h, self.compute_dtype), (new_h,)
