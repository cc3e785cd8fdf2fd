"""Convolutional IntersectionRNN (original ``cells.py::ConvIntersectionRNNCell``, doc 4.6)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_utils import ConvCellBase, cell_arguments
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

    def __init__(self, shape=None, filter_size=None, out_depth=None, weight_decay=0.0,
                 forget_bias=1.0, kernel_initializer=None, kernel_initializer_kwargs=None,
                 bias_initializer=None, bias_initializer_kwargs=None, layer_norm=False,
                 norm_gain=1.0, norm_shift=0.0, **kwargs):
        super().__init__(**cell_arguments(locals()))

    def _build_weights(self, spatial, in_depth):
        c = self.out_depth
        if in_depth != c:
            raise ValueError(
                f"{self._where}: the input must have out_depth={c} channels (the output blends the "
                f"input in), got an input with {in_depth} channels"
            )
        self._add_fused_conv(in_depth, 4 * c)
        if self.layer_norm:
            self.ln_gh, self.ln_h, self.ln_gy, self.ln_y = self._layer_norms(
                ("gh_act", "h_act", "gy_act", "y_act"), spatial
            )

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        gh, hh, gy, yy = self._fused_gates(x, h, 4)
        if self.layer_norm:
            gh, hh, gy, yy = self.ln_gh(gh), self.ln_h(hh), self.ln_gy(gy), self.ln_y(yy)
        gh = ops.sigmoid(gh + self.forget_bias)
        gy = ops.sigmoid(gy + self.forget_bias)
        new_h = gh * h + (1.0 - gh) * ops.tanh(hh)
        y = gy * ops.cast(x, "float32") + (1.0 - gy) * ops.relu(yy)
        return ops.cast(y, self.compute_dtype), (new_h,)
