"""Convolutional simple RNN (original ``cells.py::ConvNormBasicCell``, doc section 4.2)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells import common
from convrnn_tf.cells.conv_utils import ConvCellBase, ConvLinear, check_bool, check_number
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

    def __init__(
        self,
        shape=None,
        filter_size=None,
        out_depth=None,
        layer_norm=True,
        kernel_regularizer=5e-4,
        bias_regularizer=5e-4,
        activation="elu",
        kernel_initializer=None,
        kernel_initializer_kwargs=None,
        bias_initializer=None,
        bias_initializer_kwargs=None,
        **kwargs,
    ):
        super().__init__(shape=shape, filter_size=filter_size, out_depth=out_depth, **kwargs)
        where = self._where
        self.layer_norm = check_bool(layer_norm, where, "layer_norm")
        self.kernel_regularizer = 0.0
        if kernel_regularizer is not None:
            self.kernel_regularizer = check_number(kernel_regularizer, where, "kernel_regularizer")
        self.bias_regularizer = 0.0
        if bias_regularizer is not None:
            self.bias_regularizer = check_number(bias_regularizer, where, "bias_regularizer")
        self._kernel_reg = common.weight_decay_regularizer(
            self.kernel_regularizer, where=f"{where}: kernel_regularizer"
        )
        self._bias_reg = common.weight_decay_regularizer(
            self.bias_regularizer, where=f"{where}: bias_regularizer"
        )
        self.activation = common.check_activation(activation, where=f"{where}: activation")
        self._activation = common.activation(activation)
        self._setup_initializers(
            kernel_initializer, kernel_initializer_kwargs, bias_initializer, bias_initializer_kwargs
        )

    def _conv(self, name, in_depth, spatial):
        layer = ConvLinear(
            self.out_depth,
            self.filter_size,
            kernel_initializer=self._make_kernel_init(),
            bias_initializer=self._make_bias_init(),
            kernel_regularizer=self._kernel_reg,
            bias_regularizer=self._bias_reg,
            name=name,
            dtype=self.dtype_policy,
        )
        layer.build((None,) + tuple(spatial) + (int(in_depth),))
        return layer

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        if self._rebuild_is_noop(input_shape, feedback_shape):
            return
        h, w, in_depth = self._check_build_input(input_shape, feedback_shape)
        # The original creates "s" before "i".
        self.s = self._conv("s", self.out_depth, (h, w))
        self.i = self._conv("i", in_depth, (h, w))
        if self.layer_norm:
            self.ln = self._layer_norm("layer_norm", 1.0, 0.0, self.out_depth, (h, w))
        super().build(input_shape)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (h,) = self._prepare_call(inputs, states, feedback)
        pre = ops.cast(self.i(x), "float32") + ops.cast(self.s(ops.cast(h, x.dtype)), "float32")
        if self.layer_norm:
            pre = self.ln(pre)
        new_h = self._activation(pre)
        return ops.cast(new_h, self.compute_dtype), (new_h,)

    def get_config(self):
        config = super().get_config()
        config.update(
            layer_norm=self.layer_norm,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            activation=self.activation,
            **self._initializer_config(),
        )
        return config
