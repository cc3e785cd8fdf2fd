"""Convolutional GRU (original ``cells.py::ConvGRUCell``, doc section 4.3)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells import common
from convrnn_tf.cells.conv_utils import ConvCellBase, ConvLinear, check_bool, check_number
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

    def __init__(
        self,
        shape=None,
        filter_size=None,
        out_depth=None,
        weight_decay=0.0,
        forget_bias=1.0,
        activation="tanh",
        kernel_initializer=None,
        kernel_initializer_kwargs=None,
        bias_initializer=None,
        bias_initializer_kwargs=None,
        layer_norm=False,
        norm_gain=1.0,
        norm_shift=0.0,
        **kwargs,
    ):
        super().__init__(shape=shape, filter_size=filter_size, out_depth=out_depth, **kwargs)
        where = self._where
        self._setup_weight_decay(weight_decay)
        self._setup_initializers(
            kernel_initializer, kernel_initializer_kwargs, bias_initializer, bias_initializer_kwargs
        )
        self.forget_bias = check_number(forget_bias, where, "forget_bias")
        self.activation = common.check_activation(activation, where=f"{where}: activation")
        self._activation = common.activation(activation)
        self.layer_norm = check_bool(layer_norm, where, "layer_norm")
        self.norm_gain = check_number(norm_gain, where, "norm_gain")
        self.norm_shift = check_number(norm_shift, where, "norm_shift")

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        if self._rebuild_is_noop(input_shape, feedback_shape):
            return
        h, w, in_depth = self._check_build_input(input_shape, feedback_shape)
        c = self.out_depth
        conv_shape = (None, h, w, in_depth + c)
        self.gates = ConvLinear(
            2 * c,
            self.filter_size,
            kernel_initializer=self._make_kernel_init(),
            bias_initializer=self._make_bias_init(default=1.0),
            kernel_regularizer=self._regularizer,
            bias_regularizer=self._regularizer,
            name="gates",
            dtype=self.dtype_policy,
        )
        self.gates.build(conv_shape)
        if self.layer_norm:
            self.ln_r = self._layer_norm("r_pre", self.norm_gain, self.norm_shift, c, (h, w))
            self.ln_u = self._layer_norm("u_pre", self.norm_gain, self.norm_shift, c, (h, w))
        self.candidates = ConvLinear(
            c,
            self.filter_size,
            kernel_initializer=self._make_kernel_init(),
            bias_initializer=self._make_bias_init(default=0.0),
            kernel_regularizer=self._regularizer,
            bias_regularizer=self._regularizer,
            name="candidates",
            dtype=self.dtype_policy,
        )
        self.candidates.build(conv_shape)
        if self.layer_norm:
            self.ln_c = self._layer_norm("c_pre", self.norm_gain, self.norm_shift, c, (h, w))
        super().build(input_shape)

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

    def get_config(self):
        config = super().get_config()
        config.update(
            weight_decay=self.weight_decay,
            forget_bias=self.forget_bias,
            activation=self.activation,
            **self._initializer_config(),
            layer_norm=self.layer_norm,
            norm_gain=self.norm_gain,
            norm_shift=self.norm_shift,
        )
        return config
