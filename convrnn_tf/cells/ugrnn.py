"""Convolutional UGRNN (original ``cells.py::ConvUGRNNCell``, doc section 4.5)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_utils import ConvCellBase, cell_arguments
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

    def __init__(self, shape=None, filter_size=None, out_depth=None, weight_decay=0.0,
                 forget_bias=1.0, kernel_initializer=None, kernel_initializer_kwargs=None,
                 bias_initializer=None, bias_initializer_kwargs=None, layer_norm=False,
                 norm_gain=1.0, norm_shift=0.0, **kwargs):
        super().__init__(**cell_arguments(locals()))
        if self.layer_norm:
            raise ValueError(
                f"{self._where}: layer_norm=True is not supported (the original ConvUGRNNCell's "
                "layer-norm branch is broken and was never used)"
            )

    def _build_weights(self, spatial, in_depth):
        self._add_fused_conv(in_depth, 2 * self.out_depth)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        g_act, c_act = self._fused_gates(x, h, 2)
        g = ops.sigmoid(g_act + self.forget_bias)
        new_h = g * h + (1.0 - g) * ops.tanh(c_act)
        return ops.cast(new_h, self.compute_dtype), (new_h,)
