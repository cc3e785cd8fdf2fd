"""Convolutional IntersectionRNN (original ``cells.py::ConvIntersectionRNNCell``, doc 4.6)."""

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
@register("intersectionrnn")
class ConvIntersectionRNN(ConvCellBase):
    """Conv IntersectionRNN: the state (passed in time) and the output (passed up) differ::

        [gh, hh, gy, yy] = split4(conv(concat([x, h]), weights) + bias)
        if layer_norm: each of the four is normalised (LN_gh_act, LN_h_act, LN_gy_act, LN_y_act)
        gh = sigmoid(gh + forget_bias);  gy = sigmoid(gy + forget_bias)
        h' = gh * h + (1 - gh) * tanh(hh)          # new state
        y  = gy * x + (1 - gy) * relu(yy)           # output
        return y, (h',)

    The input must have exactly the cell's ``out_depth`` channels (and ``shape``'s spatial size,
    when given), because ``x`` is blended into the output; `build` raises a ``ValueError``
    otherwise.

    State ``(h,)``, float32 ``[B, H, W, C]``. Weights: ``<cell>/weights`` ``[kh, kw, 2C, 4C]``
    (rows x|h, columns gh|h|gy|y) and ``<cell>/bias`` ``[4C]`` =
    ``tnn_model/<node>/ConvIntersectionRNNCell/{weights,bias}``; both get
    ``L2(weight_decay/2)``; with layer_norm ``<cell>/{gh_act,h_act,gy_act,y_act}/{gamma,beta}``.
    Bias init 0 unless configured, kernel init Glorot uniform unless configured.
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
        self.layer_norm = check_bool(layer_norm, where, "layer_norm")
        self.norm_gain = check_number(norm_gain, where, "norm_gain")
        self.norm_shift = check_number(norm_shift, where, "norm_shift")

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        if self._rebuild_is_noop(input_shape, feedback_shape):
            return
        h, w, in_depth = self._check_build_input(input_shape, feedback_shape)
        c = self.out_depth
        if in_depth != c:
            raise ValueError(
                f"{self._where}: the input must have out_depth={c} channels (the output blends the "
                f"input in), got input shape {tuple(input_shape)}"
            )
        self.kernel, self.bias = add_conv_weights(
            self,
            in_depth + c,
            4 * c,
            self.filter_size,
            self._make_kernel_init(),
            self._make_bias_init(),
            self._regularizer,
            self._regularizer,
        )
        if self.layer_norm:
            self.ln_gh, self.ln_h, self.ln_gy, self.ln_y = (
                self._layer_norm(name, self.norm_gain, self.norm_shift, c, (h, w))
                for name in ("gh_act", "h_act", "gy_act", "y_act")
            )
        super().build(input_shape)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        z = conv2d_same(ops.concatenate([x, ops.cast(h, x.dtype)], axis=-1), self.kernel, self.bias)
        gh, hh, gy, yy = ops.split(ops.cast(z, "float32"), 4, axis=-1)
        if self.layer_norm:
            gh, hh, gy, yy = self.ln_gh(gh), self.ln_h(hh), self.ln_gy(gy), self.ln_y(yy)
        gh = ops.sigmoid(gh + self.forget_bias)
        gy = ops.sigmoid(gy + self.forget_bias)
        new_h = gh * h + (1.0 - gh) * ops.tanh(hh)
        y = gy * ops.cast(x, "float32") + (1.0 - gy) * ops.relu(yy)
        return ops.cast(y, self.compute_dtype), (new_h,)

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
