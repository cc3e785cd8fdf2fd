"""Convolutional simple RNN (original ``cells.py::ConvNormBasicCell``, doc section 4.2)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_utils import ConvCellBase, cell_arguments
from convrnn_tf.cells.registry import register


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("simplernn")
class ConvSimpleRNN(ConvCellBase):
    """The original's ConvNormBasicCell: two separate convs, optional joint layer norm, elu::

        i = conv(x, i/weights) + i/bias;   s = conv(h, s/weights) + s/bias
        h' = act(LN(i + s)) if layer_norm else act(i + s);   output = state = h'

    ``act`` is ``activation`` (elu). State ``(h,)``, float32 ``[B, H, W, C]``.

    Weights (original names relative to ``tnn_model/<node>/ConvNormBasicCell/``):
    ``<cell>/s/weights`` ``[kh, kw, C, C]``, ``<cell>/s/bias`` ``[C]``, ``<cell>/i/weights``
    ``[kh, kw, C_x, C]``, ``<cell>/i/bias`` ``[C]`` (same names), and with layer_norm
    ``<cell>/layer_norm/{gamma,beta}`` ``[C]``.

    Regularisation as in the original: ``L2(kernel_regularizer/2)`` on both kernels and
    ``L2(bias_regularizer/2)`` on both biases (defaults 5e-4, the original constructor's; the
    JSONs give 1e-4), none on gamma/beta. Kernel init Glorot uniform and bias init 0 unless
    configured. Defaults follow the original constructor: ``layer_norm=True``, ``activation="elu"``.
    """

    def __init__(self, shape=None, filter_size=None, out_depth=None, layer_norm=True,
                 kernel_regularizer=5e-4, bias_regularizer=5e-4, activation="elu",
                 kernel_initializer=None, kernel_initializer_kwargs=None, bias_initializer=None,
                 bias_initializer_kwargs=None, **kwargs):
        super().__init__(**cell_arguments(locals()))

    def _build_weights(self, spatial, in_depth):
        c, regs = self.out_depth, (self._l2("kernel_regularizer"), self._l2("bias_regularizer"))
        # The original creates "s" before "i".
        self.s = self._conv_layer("s", c, c, spatial, 0.0, *regs)
        self.i = self._conv_layer("i", c, in_depth, spatial, 0.0, *regs)
        if self.layer_norm:
            self.ln = self._layer_norm("layer_norm", 1.0, 0.0, c, spatial)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        pre = ops.cast(self.i(x), "float32") + ops.cast(self.s(ops.cast(h, x.dtype)), "float32")
        if self.layer_norm:
            pre = self.ln(pre)
        new_h = self._activation(pre)
        return ops.cast(new_h, self.compute_dtype), (new_h,)
