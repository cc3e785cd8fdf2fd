"""Helpers shared by the convolutional cells: config checks, TF-SAME convs, fused conv weights.

Stable API (other cells may use it):

* Config checks, each raising one ``ValueError("<Cell>: <key> ...")``: `check_int`,
  `check_number`, `check_bool`, `filter_size_pair`, `spatial_shape`, `check_init_kwargs`.
* `kernel_initializer(name, kwargs, where)` / `bias_initializer(name, kwargs, where, default)`:
  the original's defaults when ``name`` is None (TF1 ``get_variable``'s Glorot uniform for kernels,
  ``constant(default)`` for biases), otherwise `convrnn_tf.cells.common.initializer`.
* `serialize_initializer(value)`: a config-safe form of an initializer argument.
* `check_filter_fits(filter_size, spatial, where, key)`: the build-time kernel-size check.
* `conv2d_same(x, kernel, bias=None)`: stride-1 TF ``SAME`` conv (even kernels pad bottom/right,
  as TF does) in ``x``'s dtype.
* `add_conv_weights(layer, ...)`: a ``weights`` kernel ``[kh, kw, C_in, C_out]`` and ``bias``
  ``[C_out]`` on ``layer``, as the original's ``_conv_linear`` creates them.
* `ConvLinear`: a layer owning such a pair (one fused conv over the concatenated inputs).
* `ConvCellBase`: the common part of the cells with the original's memory-dict keys ``shape``,
  ``filter_size`` and ``out_depth`` (float32 states, input checks, shapes, config).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from convrnn_tf.cells import common
from convrnn_tf.cells.base import ConvRNNCell
from convrnn_tf.cells.layer_norm import JointLayerNorm

# --------------------------------------------------------------------------------------------
# Config checks


def _is_integral(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def check_int(value, where: str, key: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; integral floats (``3.0``) are accepted."""
    if not _is_integral(value) or int(value) < minimum:
        raise ValueError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(value, where: str, key: str) -> float:
    """``value`` as a finite float (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def check_bool(value, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def filter_size_pair(value, where: str, key: str = "filter_size") -> list:
    """The original's ``ksize``: an int (or integral float, as the lstm_shallow npz has ``2.0``) or
    a pair ``[kh, kw]`` of positive integers, returned as a tuple ``(kh, kw)``."""
    if value is None:
        raise ValueError(f"{where}: {key} is required (an integer or a pair [kh, kw])")
    if _is_integral(value):
        pair = [value, value]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        pair = list(value)
    else:
        raise ValueError(
            f"{where}: {key} must be a positive integer or a pair [kh, kw] of them, got {value!r}"
        )
    if not all(_is_integral(v) and int(v) >= 1 for v in pair):
        raise ValueError(
            f"{where}: {key} must be a positive integer or a pair [kh, kw] of them, got {value!r}"
        )
    return (int(pair[0]), int(pair[1]))


def spatial_shape(value, where: str, key: str = "shape"):
    """``None`` or ``[H, W]`` with positive integers (returned as a tuple)."""
    if value is None:
        return None
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_is_integral(v) and int(v) >= 1 for v in value)
    ):
        raise ValueError(
            f"{where}: {key} must be [height, width] of positive integers, got {value!r}"
        )
    return (int(value[0]), int(value[1]))


def check_init_kwargs(value, where: str, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {key} must be a dict or null, got {value!r}")
    return dict(value)


# --------------------------------------------------------------------------------------------
# Initializers


def _deserialize_initializer(name):
    if isinstance(name, dict):
        return keras.saving.deserialize_keras_object(name)
    return name


def kernel_initializer(name, kwargs=None, where: str = "kernel_initializer"):
    """``None`` gives Glorot uniform (TF1 ``get_variable``'s default, what the original uses when
    no kernel initializer is configured); otherwise `common.initializer`."""
    name = _deserialize_initializer(name)
    if name is None:
        return keras.initializers.GlorotUniform(**(kwargs or {}))
    return common.initializer(name, kwargs, where=where)


def bias_initializer(name, kwargs=None, where: str = "bias_initializer", default: float = 0.0):
    """``None`` gives ``constant(default)`` (the original's ``_conv_linear`` default is 0; the GRU
    gates use 1); otherwise `common.initializer`."""
    name = _deserialize_initializer(name)
    if name is None:
        return keras.initializers.Constant(default)
    return common.initializer(name, kwargs, where=where)


def serialize_initializer(value):
    """Strings and None stay as they are; initializer objects become serialized dicts."""
    if value is None or isinstance(value, (str, dict)):
        return value
    return keras.saving.serialize_keras_object(value)


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


# --------------------------------------------------------------------------------------------
# Common cell base


class ConvCellBase(ConvRNNCell):
    """Shared part of the convolutional cells with memory keys ``shape``, ``filter_size``,
    ``out_depth``.

    * ``shape`` ([H, W], optional) is checked against the input in `build`; when the input's
      spatial size is unknown it supplies it.
    * States: the cell's inputs are **not** auto-cast by Keras (so float32 states stay float32 on
      the way in). `_prepare_call` casts the input to the compute dtype and the states to float32.
      Convolutions run in the compute dtype; the element-wise gate and state arithmetic (and layer
      norm statistics) run in float32, so long unrolls under ``mixed_bfloat16`` keep float32
      states; the output is returned in the compute dtype.
    * Subclasses set ``num_states`` and implement ``build``/``call``.
    """

    takes_feedback = False
    #: how many state tensors the cell carries
    num_states = 1

    def __init__(self, shape=None, filter_size=None, out_depth=None, **kwargs):
        super().__init__(**kwargs)  # ConvRNNCell keeps states float32 (see its __call__)
        self._allow_non_tensor_positional_args = True
        where = self._where
        self.shape = spatial_shape(shape, where)
        self.filter_size = filter_size_pair(filter_size, where)
        if out_depth is None:
            raise ValueError(f"{where}: out_depth is required (a positive integer)")
        self.out_depth = check_int(out_depth, where, "out_depth")

    @property
    def _where(self) -> str:
        return type(self).__name__

    # ---- shapes ------------------------------------------------------------------------

    def _spatial(self, input_shape):
        """(H, W) from the input shape, or from ``shape`` where the input's are unknown."""
        h, w = input_shape[1], input_shape[2]
        if self.shape is not None:
            h = self.shape[0] if h is None else h
            w = self.shape[1] if w is None else w
        if h is None or w is None:
            raise ValueError(
                f"{self._where}: the input's spatial size is unknown ({tuple(input_shape)}) and no "
                "`shape` is configured"
            )
        return int(h), int(w)

    def _check_build_input(self, input_shape, feedback_shape=None):
        """Validate a [B, H, W, C] input shape; return (H, W, C)."""
        where = self._where
        if feedback_shape is not None:
            raise ValueError(
                f"{where} takes no separate feedback input (takes_feedback is False: feedback is "
                f"concatenated in the harbor); got feedback_shape {tuple(feedback_shape)}"
            )
        try:
            input_shape = tuple(input_shape)
        except TypeError:
            raise ValueError(f"{where}: bad input shape {input_shape!r}") from None
        if len(input_shape) != 4:
            raise ValueError(
                f"{where}: expects a rank-4 input [batch, height, width, channels], got shape "
                f"{input_shape}"
            )
        if input_shape[3] is None:
            raise ValueError(f"{where}: the input's channel axis must be known, got {input_shape}")
        if self.shape is not None:
            for got, want, axis in zip(input_shape[1:3], self.shape, ("height", "width")):
                if got is not None and int(got) != want:
                    raise ValueError(
                        f"{where}: input {axis} {got} does not match the configured shape "
                        f"{self.shape} (input shape {input_shape})"
                    )
        h, w = self._spatial(input_shape)
        check_filter_fits(self.filter_size, (h, w), where)
        return h, w, int(input_shape[3])

    def _rebuild_is_noop(self, input_shape, feedback_shape=None):
        """True when the cell is already built (e.g. by deserialization) for this input shape.

        Subclasses call it first in `build`, so that an explicit second ``build`` with the same
        shape is harmless; a different shape raises.
        """
        if not self.built:
            return False
        self._check_build_input(input_shape, feedback_shape)
        old = getattr(self, "_build_input_shape", None)
        if old is not None and tuple(old[1:]) != tuple(input_shape[1:]):
            same = all(a is None or b is None or a == b for a, b in zip(old[1:], input_shape[1:]))
            if not same:
                raise ValueError(
                    f"{self._where}: already built for input shape {tuple(old)}, cannot rebuild "
                    f"for {tuple(input_shape)}"
                )
        return True

    def state_shapes(self, input_shape):
        h, w = self._spatial(tuple(input_shape))
        return ((h, w, self.out_depth),) * self.num_states

    def compute_output_shape(self, input_shape):
        h, w = self._spatial(tuple(input_shape))
        return (input_shape[0], h, w, self.out_depth)

    def compute_output_spec(self, inputs, states, feedback=None, res_input=None, training=None):
        """Symbolic call (Keras functional API): (output, tuple of float32 states)."""
        shape = tuple(inputs.shape)
        output = keras.KerasTensor(self.compute_output_shape(shape), dtype=self.compute_dtype)
        new_states = tuple(
            keras.KerasTensor((shape[0],) + tuple(s), dtype="float32")
            for s in self.state_shapes(shape)
        )
        return output, new_states

    # ---- call helpers ----------------------------------------------------------------------

    def _prepare_call(self, inputs, states, feedback):
        """(input in the compute dtype, tuple of float32 states)."""
        where = self._where
        if feedback is not None:
            raise ValueError(
                f"{where} takes no separate feedback input (takes_feedback is False: feedback is "
                "concatenated upstream by the harbor), but feedback was given"
            )
        if not isinstance(states, (list, tuple)) or len(states) != self.num_states:
            count = len(states) if isinstance(states, (list, tuple)) else type(states).__name__
            raise ValueError(
                f"{where}: expects a tuple of {self.num_states} state tensor(s), got {count}"
            )
        x = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        states = tuple(ops.cast(ops.convert_to_tensor(s), "float32") for s in states)
        return x, states

    # ---- shared config pieces -----------------------------------------------------------------

    def _setup_weight_decay(self, weight_decay):
        """Store ``weight_decay`` (None -> 0) and its regularizer ``L2(wd/2)`` (or None)."""
        where = self._where
        wd = 0.0 if weight_decay is None else check_number(weight_decay, where, "weight_decay")
        self.weight_decay = wd
        self._regularizer = common.weight_decay_regularizer(wd, where=f"{where}: weight_decay")

    def _setup_initializers(self, kernel_init, kernel_kwargs, bias_init, bias_kwargs):
        """Store the original's initializer keys; resolve them once so bad ones fail now."""
        where = self._where
        self.kernel_initializer = serialize_initializer(kernel_init)
        self.kernel_initializer_kwargs = check_init_kwargs(
            kernel_kwargs, where, "kernel_initializer_kwargs"
        )
        self.bias_initializer = serialize_initializer(bias_init)
        self.bias_initializer_kwargs = check_init_kwargs(
            bias_kwargs, where, "bias_initializer_kwargs"
        )
        self._make_kernel_init()
        self._make_bias_init()

    def _make_kernel_init(self):
        """A fresh kernel initializer (None: Glorot uniform, TF1's default)."""
        return kernel_initializer(
            self.kernel_initializer,
            self.kernel_initializer_kwargs,
            where=f"{self._where}: kernel_initializer",
        )

    def _make_bias_init(self, default=0.0):
        """A fresh bias initializer (None: ``constant(default)``)."""
        return bias_initializer(
            self.bias_initializer,
            self.bias_initializer_kwargs,
            where=f"{self._where}: bias_initializer",
            default=default,
        )

    def _initializer_config(self):
        return dict(
            kernel_initializer=self.kernel_initializer,
            kernel_initializer_kwargs=dict(self.kernel_initializer_kwargs),
            bias_initializer=self.bias_initializer,
            bias_initializer_kwargs=dict(self.bias_initializer_kwargs),
        )

    def _layer_norm(self, name, gain, shift, channels, spatial):
        """A built float32 `JointLayerNorm` sub-layer named after the original's scope."""
        layer = JointLayerNorm(gamma_init=gain, beta_init=shift, name=name, dtype="float32")
        layer.build((None,) + tuple(spatial) + (int(channels),))
        return layer

    def get_config(self):
        config = super().get_config()
        config.update(
            shape=None if self.shape is None else list(self.shape),
            filter_size=list(self.filter_size),
            out_depth=self.out_depth,
        )
        return config
