"""Convolutions of the cells: the build-time kernel-size check, stride-1 TF-SAME convs, the
original's ``_conv_linear`` weights and the `ConvLinear` layer."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_checks import check_bool, check_int, filter_size_pair

# --------------------------------------------------------------------------------------------
# Shapes and convolutions


def check_filter_fits(filter_size, spatial, where: str, key: str = "filter_size"):
    """Refuse kernels with taps that can never touch the input.

    With stride 1 and TF ``SAME`` padding a kernel of size ``k`` pads ``(k-1)//2`` before and
    ``k-1-(k-1)//2`` after; its outermost taps reach data only if each pad is ``<= size-1``, i.e.
    ``k <= 2*size-1`` (odd ``k``) or ``k <= 2*size-2`` (even ``k``). Unknown sizes are not checked.
    """
    for k, size, axis in zip(filter_size, spatial, ("height", "width")):
        if size is None:
            continue
        if k - 1 - (k - 1) // 2 > size - 1:
            raise ValueError(
                f"{where}: {key} {list(filter_size)} is larger than allowed for an input {axis} of "
                f"{size}: with TF SAME padding a kernel size k needs ceil((k-1)/2) <= {size - 1}, "
                "otherwise some taps never see the input"
            )


def conv2d_same(x, kernel, bias=None):
    """Stride-1 TF ``SAME`` conv of ``x`` [B, H, W, C_in] with ``kernel`` [kh, kw, C_in, C_out]
    (and ``bias`` [C_out]); kernel and bias are cast to ``x``'s dtype."""
    y = ops.conv(
        x, ops.cast(kernel, x.dtype), strides=1, padding="same", data_format="channels_last"
    )
    if bias is not None:
        y = y + ops.cast(bias, x.dtype)
    return y


def add_conv_weights(
    layer,
    in_depth,
    out_depth,
    filter_size,
    kernel_init,
    bias_init=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    use_bias=True,
    kernel_name="weights",
    bias_name="bias",
):
    """Create ``(kernel, bias)`` on ``layer`` like the original's ``_conv_linear``.

    The kernel is ``[kh, kw, in_depth, out_depth]`` (for a fused conv over ``concat([a, b])``
    the rows of ``a`` come first); ``bias`` is ``[out_depth]`` or None when ``use_bias`` is false.
    """
    kernel = layer.add_weight(
        name=kernel_name,
        shape=(int(filter_size[0]), int(filter_size[1]), int(in_depth), int(out_depth)),
        initializer=kernel_init,
        regularizer=kernel_regularizer,
    )
    bias = None
    if use_bias:
        bias = layer.add_weight(
            name=bias_name,
            shape=(int(out_depth),),
            initializer=bias_init if bias_init is not None else "zeros",
            regularizer=bias_regularizer,
        )
    return kernel, bias


@keras.saving.register_keras_serializable(package="convrnn_tf")
class ConvLinear(keras.layers.Layer):
    """One stride-1 TF-SAME conv with a ``weights`` kernel and an optional ``bias``.

    Cells use it as a named sub-layer to mirror the original's variable scopes (e.g. the GRU's
    ``gates/weights``). Arguments are Keras objects (initializers, regularizers) or their names.
    Called on a list of tensors it concatenates them on the channel axis first (input rows in
    list order).
    """

    def __init__(
        self,
        out_depth,
        filter_size,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"ConvLinear {self.name!r}"
        self.out_depth = check_int(out_depth, where, "out_depth")
        self.filter_size = filter_size_pair(filter_size, where)
        self.use_bias = check_bool(use_bias, where, "use_bias")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(
            input_shape[0], (list, tuple)
        ):
            in_depth = sum(int(s[-1]) for s in input_shape)
        else:
            in_depth = int(input_shape[-1])
        self.kernel, self.bias = add_conv_weights(
            self,
            in_depth,
            self.out_depth,
            self.filter_size,
            self.kernel_initializer,
            self.bias_initializer,
            self.kernel_regularizer,
            self.bias_regularizer,
            use_bias=self.use_bias,
        )
        self.built = True

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0] if len(inputs) == 1 else ops.concatenate(list(inputs), axis=-1)
        return conv2d_same(inputs, self.kernel, self.bias)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(
            input_shape[0], (list, tuple)
        ):
            input_shape = input_shape[0]
        return tuple(input_shape[:-1]) + (self.out_depth,)

    def get_config(self):
        config = super().get_config()
        config.update(
            out_depth=self.out_depth,
            filter_size=list(self.filter_size),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer)
            if self.kernel_regularizer is not None
            else None,
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer)
            if self.bias_regularizer is not None
            else None,
        )
        return config
