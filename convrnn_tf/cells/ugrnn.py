"""Convolutional UGRNN (original ``cells.py::ConvUGRNNCell``, doc section 4.5)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_utils import (
    ConvCellBase,
    add_conv_weights,
    check_bool,
    check_number,
    conv2d_same,
)
from convrnn_tf.cells.registry import register


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("ugrnn")
class ConvUGRNN(ConvCellBase):
    """Conv UGRNN (update-gate RNN)::

        [g_act, c_act] = split2(conv(concat([x, h]), weights) + bias)
        g = sigmoid(g_act + forget_bias);  c = tanh(c_act)
        h' = g * h + (1 - g) * c;  output = state = h'

    State ``(h,)``, float32 ``[B, H, W, C]``. Weights: ``<cell>/weights``
    ``[kh, kw, C_x + C, 2C]`` (rows x|h, columns g|c) and ``<cell>/bias`` ``[2C]`` =
    ``tnn_model/<node>/ConvUGRNNCell/{weights,bias}``; both get ``L2(weight_decay/2)``; bias init 0
    unless configured, kernel init Glorot uniform unless configured.

    ``layer_norm``, ``norm_gain`` and ``norm_shift`` are accepted for compatibility with the
    original constructor, but ``layer_norm=True`` is refused: the original's layer-norm branch
    refers to an undefined variable and cannot run (doc section 4.5).
    """

    def __init__(
        self,
        shape=None,
        filter_size=None,
        out_depth=None,
        weight_decay=0.0,
        forget_bias=1.0,
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
        if check_bool(layer_norm, where, "layer_norm"):
            raise ValueError(
                f"{where}: layer_norm=True is not supported (the original ConvUGRNNCell's "
                "layer-norm branch is broken and was never used)"
            )
        self.layer_norm = False
        self.norm_gain = check_number(norm_gain, where, "norm_gain")
        self.norm_shift = check_number(norm_shift, where, "norm_shift")

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        if self._rebuild_is_noop(input_shape, feedback_shape):
            return
        _, _, in_depth = self._check_build_input(input_shape, feedback_shape)
        c = self.out_depth
        self.kernel, self.bias = add_conv_weights(
            self,
            in_depth + c,
            2 * c,
            self.filter_size,
            self._make_kernel_init(),
            self._make_bias_init(),
            self._regularizer,
            self._regularizer,
        )
        super().build(input_shape)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        z = conv2d_same(ops.concatenate([x, ops.cast(h, x.dtype)], axis=-1), self.kernel, self.bias)
        g_act, c_act = ops.split(ops.cast(z, "float32"), 2, axis=-1)
        g = ops.sigmoid(g_act + self.forget_bias)
        new_h = g * h + (1.0 - g) * ops.tanh(c_act)
        return ops.cast(new_h, self.compute_dtype), (new_h,)

    def get_config(self):
        config = super().get_config()
        config.update(
            weight_decay=self.weight_decay,
            forget_bias=self.forget_bias,
            **self._initializer_config(),
            layer_norm=self.layer_norm,
            norm_gain=self.norm_gain,
            norm_shift=self.norm_shift,
        )
        return config
