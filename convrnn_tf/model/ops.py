"""Keras layers that execute the graph ops of `convrnn_tf.graph.ops` (one per op name)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells import common
from convrnn_tf.model.resize import resize_align_corners

_SER = "convrnn_tf"


class _Affine(keras.layers.Layer):
    """What conv and fc share: a kernel and bias with the original's initialisers and weight
    decay (TF1 ``l2_regularizer(wd)`` on both), then a named activation."""

    def __init__(self, out_depth, activation=None, use_bias=True, bias=0.0, kernel_init="xavier",
                 kernel_init_kwargs=None, weight_decay=None, **kwargs):
        super().__init__(**kwargs)
        self.out_depth = int(out_depth)
        self.activation = activation
        self.use_bias = use_bias
        self.bias = float(bias)
        self.kernel_init = kernel_init
        self.kernel_init_kwargs = dict(kernel_init_kwargs or {})
        self.weight_decay = weight_decay
        self._act = common.activation(activation, f"{self.name}.activation")

    def _add_weights(self, kernel_shape):
        reg = common.weight_decay_regularizer(self.weight_decay)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, regularizer=reg,
                                      initializer=common.initializer(self.kernel_init, self.kernel_init_kwargs))
        if self.use_bias:
            self.b = self.add_weight(name="bias", shape=(self.out_depth,), regularizer=reg,
                                     initializer=keras.initializers.Constant(self.bias))

    def _finish(self, y):
        if self.use_bias:
            y = y + self.b
        return self._act(y)

    def get_config(self):
        return {**super().get_config(), "out_depth": self.out_depth, "activation": self.activation,
                "use_bias": self.use_bias, "bias": self.bias, "kernel_init": self.kernel_init,
                "kernel_init_kwargs": self.kernel_init_kwargs, "weight_decay": self.weight_decay}


@keras.saving.register_keras_serializable(package=_SER)
class Conv(_Affine):
    """``act(conv(x, W) + b)`` with TF SAME/VALID padding; kernel ``[kh, kw, Cin, Cout]``."""

    def __init__(self, out_depth, ksize, strides=1, padding="SAME", kernel_init="variance_scaling",
                 return_input=False, input_name=None, **kwargs):
        super().__init__(out_depth, kernel_init=kernel_init, **kwargs)
        self.ksize = tuple(ksize) if isinstance(ksize, (list, tuple)) else (ksize, ksize)
        self.strides = tuple(strides) if isinstance(strides, (list, tuple)) else (strides, strides)
        self.padding = padding.upper()
        self.return_input = return_input
        self.input_name = input_name

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{self.name}: conv needs [B, H, W, C] input, got {input_shape}")
        self._add_weights(self.ksize + (input_shape[-1], self.out_depth))

    def call(self, x):
        return self._finish(ops.conv(x, self.kernel, strides=self.strides, padding=self.padding.lower()))

    def get_config(self):
        return {**super().get_config(), "ksize": list(self.ksize), "strides": list(self.strides),
                "padding": self.padding, "return_input": self.return_input, "input_name": self.input_name}


@keras.saving.register_keras_serializable(package=_SER)
class FC(_Affine):
    """``act(flatten(x) @ W + b)``; kernel ``[Cin, Cout]``."""

    def build(self, input_shape):
        fan_in = 1
        for d in input_shape[1:]:
            fan_in *= d
        self._add_weights((fan_in, self.out_depth))

    def call(self, x):
        return self._finish(ops.matmul(ops.reshape(x, (-1, self.kernel.shape[0])), self.kernel))


@keras.saving.register_keras_serializable(package=_SER)
class Pool(keras.layers.Layer):
    """Max or average pooling with TF padding (SAME pools give ceil sizes: 7 -> 4)."""

    def __init__(self, kind="max", ksize=2, strides=2, padding="SAME", **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.ksize = tuple(ksize) if isinstance(ksize, (list, tuple)) else (ksize, ksize)
        self.strides = tuple(strides) if isinstance(strides, (list, tuple)) else (strides, strides)
        self.padding = padding.upper()

    def call(self, x):
        fn = ops.max_pool if self.kind == "max" else ops.average_pool
        return fn(x, self.ksize, self.strides, padding=self.padding.lower())

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "ksize": list(self.ksize),
                "strides": list(self.strides), "padding": self.padding}


@keras.saving.register_keras_serializable(package=_SER)
class GlobalPool(keras.layers.Layer):
    """Mean (or max) over H and W: ``[B, H, W, C] -> [B, C]``."""

    def __init__(self, kind="avg", **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, x):
        return ops.mean(x, axis=(1, 2)) if self.kind == "avg" else ops.max(x, axis=(1, 2))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package=_SER)
class Flatten(keras.layers.Layer):
    """``[B, ...] -> [B, prod(...)]``."""

    def call(self, x):
        size = 1
        for d in x.shape[1:]:
            size *= d
        return ops.reshape(x, (-1, size))


@keras.saving.register_keras_serializable(package=_SER)
class Activation(keras.layers.Layer):
    """A pointwise nonlinearity by name (``None``/"identity" is the identity)."""

    def __init__(self, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self._act = common.activation(activation, f"{self.name}.activation")

    def call(self, x):
        return self._act(x)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@keras.saving.register_keras_serializable(package=_SER)
class ResidualAdd(keras.layers.Layer):
    """``y + P(resize(r))``: ``r`` resized (align corners) to ``y``'s size; ``P`` a 1x1 conv
    without bias (Glorot uniform, as the original) only when the depths differ."""

    def build(self, input_shape, res_shape):
        self.kernel = None
        if res_shape[-1] != input_shape[-1]:
            self.kernel = self.add_weight(name="residual_add_weights",
                                          shape=(1, 1, res_shape[-1], input_shape[-1]),
                                          initializer=keras.initializers.GlorotUniform())
        self.built = True

    def call(self, x, res):
        res = resize_align_corners(res, (x.shape[1], x.shape[2]))
        if self.kernel is not None:
            res = ops.conv(res, self.kernel, padding="same")
        return x + res


def make_op(name: str, kwargs: dict, layer_name: str):
    """The layer for one graph op."""
    kwargs = dict(kwargs)
    if name == "conv":
        return Conv(**kwargs, name=layer_name)
    if name == "fc":
        return FC(**kwargs, name=layer_name)
    if name in ("max_pool", "avg_pool"):
        return Pool(kind=name.split("_")[0], **kwargs, name=layer_name)
    if name == "global_pool":
        return GlobalPool(**kwargs, name=layer_name)
    if name == "flatten":
        return Flatten(name=layer_name)
    if name == "dropout":
        return keras.layers.Dropout(kwargs["rate"], seed=kwargs["seed"], name=layer_name)
    if name == "activation":
        return Activation(kwargs["activation"], name=layer_name)
    if name == "identity":
        return keras.layers.Identity(name=layer_name)
    if name == "residual_add":
        return ResidualAdd(name=layer_name)
    raise ValueError(f"unknown op {name!r}")
