"""`ConvCellBase`: what the convolutional cells (lstm, gru, ugrnn, intersectionrnn, simplernn)
share: the original's memory-dict keys ``shape``, ``filter_size`` and ``out_depth``, the checks
and config of their other constructor options, input checks at build, float32 states, shapes.

A cell lists its options once, in its constructor signature, and hands them all on::

    def __init__(self, shape=None, filter_size=None, out_depth=None, forget_bias=1.0, **kwargs):
        super().__init__(**cell_arguments(locals()))

    def _build_weights(self, spatial, in_depth): ...   # create the weights
    def call(self, inputs, states, feedback=None, res_input=None, training=None): ...

The base checks each option with `conv_checks.check_option`, stores it as an attribute of the
same name and writes it into `get_config`, so the config keys are the constructor's.
"""

from __future__ import annotations

import functools
import inspect

import keras
from keras import ops

from convrnn_tf.cells import common
from convrnn_tf.cells.base import ConvRNNCell
from convrnn_tf.cells.conv_checks import (
    OPTION_CHECKS,
    bias_initializer,
    check_int,
    check_option,
    filter_size_pair,
    kernel_initializer,
    spatial_shape,
)
from convrnn_tf.cells.conv_ops import ConvLinear, add_conv_weights, check_filter_fits, conv2d_same
from convrnn_tf.cells.layer_norm import JointLayerNorm

_NOT_OPTIONS = ("self", "__class__", "kwargs")


def cell_arguments(local_vars: dict) -> dict:
    """A cell constructor's ``locals()`` (taken first thing) as keyword arguments for the base."""
    args = {k: v for k, v in local_vars.items() if k not in _NOT_OPTIONS}
    return {**args, **local_vars.get("kwargs", {})}


@functools.lru_cache(maxsize=None)
def _option_defaults(cls) -> dict:
    """``{option: default}`` for the options (`OPTION_CHECKS` keys) in ``cls``'s constructor."""
    params = inspect.signature(cls.__init__).parameters
    return {name: p.default for name, p in params.items() if name in OPTION_CHECKS}


class ConvCellBase(ConvRNNCell):
    """Shared part of the convolutional cells with memory keys ``shape``, ``filter_size``,
    ``out_depth`` (see the module docstring for how a cell uses it).

    * ``shape`` ([H, W], optional) is checked against the input in `build`; when the input's
      spatial size is unknown it supplies it.
    * States: the cell's inputs are **not** auto-cast by Keras (so float32 states stay float32 on
      the way in). `_prepare_call` casts the input to the compute dtype and the states to float32.
      Convolutions run in the compute dtype; the element-wise gate and state arithmetic (and layer
      norm statistics) run in float32, so long unrolls under ``mixed_bfloat16`` keep float32
      states; the output is returned in the compute dtype.
    * Subclasses set ``num_states`` and implement ``_build_weights`` and ``call``.
    """

    takes_feedback = False
    #: how many state tensors the cell carries
    num_states = 1

    def __init__(self, shape=None, filter_size=None, out_depth=None, **kwargs):
        options = {key: kwargs.pop(key, default) for key, default in self._options().items()}
        super().__init__(**kwargs)  # ConvRNNCell keeps states float32 (see its __call__)
        self._allow_non_tensor_positional_args = True
        where = self._where
        self.shape = spatial_shape(shape, where)
        self.filter_size = filter_size_pair(filter_size, where)
        if out_depth is None:
            raise ValueError(f"{where}: out_depth is required (a positive integer)")
        self.out_depth = check_int(out_depth, where, "out_depth")
        for key, value in options.items():
            setattr(self, key, check_option(value, where, key))
        if "activation" in options:
            self._activation = common.activation(self.activation)
        if "kernel_initializer" in options:  # resolve once so that bad ones fail now
            self._make_kernel_init()
            self._make_bias_init()

    @classmethod
    def _options(cls) -> dict:
        """``{option: default}`` of this cell's constructor (beyond shape/filter_size/out_depth)."""
        return _option_defaults(cls)

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
        """True when the cell is already built (e.g. by deserialization) for this input shape,
        so that an explicit second ``build`` with the same shape is harmless; a different shape
        raises."""
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

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        """Check the input shape (a repeated build with the same shape is a no-op), then
        `_build_weights`."""
        if self._rebuild_is_noop(input_shape, feedback_shape):
            return
        h, w, in_depth = self._check_build_input(input_shape, feedback_shape)
        self._build_weights((h, w), in_depth)
        super().build(input_shape)

    def _build_weights(self, spatial, in_depth):
        """Create the weights for an input of spatial size ``spatial`` with ``in_depth`` channels."""
        raise NotImplementedError

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

    # ---- weights -----------------------------------------------------------------------------

    def _l2(self, key="weight_decay"):
        """The regularizer ``L2(value/2)`` of the option ``key`` (None when it is 0)."""
        return common.weight_decay_regularizer(getattr(self, key), where=f"{self._where}: {key}")

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

    def _add_fused_conv(self, in_depth, columns):
        """The cell's own ``weights`` ``[kh, kw, in_depth + C, columns]`` and ``bias``
        ``[columns]`` for one conv over ``concat([x, h])``, both with ``L2(weight_decay/2)``."""
        reg = self._l2()
        self.kernel, self.bias = add_conv_weights(
            self,
            in_depth + self.out_depth,
            columns,
            self.filter_size,
            self._make_kernel_init(),
            self._make_bias_init(),
            reg,
            reg,
        )

    def _fused_gates(self, x, h, count):
        """``split_count(conv(concat([x, h]), weights) + bias)`` in float32 (conv in x's dtype)."""
        z = conv2d_same(ops.concatenate([x, ops.cast(h, x.dtype)], axis=-1), self.kernel, self.bias)
        return ops.split(ops.cast(z, "float32"), count, axis=-1)

    def _conv_layer(self, name, out_depth, in_depth, spatial, bias_default=0.0,
                    kernel_regularizer=None, bias_regularizer=None):
        """A built `ConvLinear` sub-layer named after the original's scope."""
        layer = ConvLinear(
            out_depth,
            self.filter_size,
            kernel_initializer=self._make_kernel_init(),
            bias_initializer=self._make_bias_init(default=bias_default),
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            name=name,
            dtype=self.dtype_policy,
        )
        layer.build((None,) + tuple(spatial) + (int(in_depth),))
        return layer

    def _layer_norm(self, name, gain, shift, channels, spatial):
        """A built float32 `JointLayerNorm` sub-layer named after the original's scope."""
        layer = JointLayerNorm(gamma_init=gain, beta_init=shift, name=name, dtype="float32")
        layer.build((None,) + tuple(spatial) + (int(channels),))
        return layer

    def _layer_norms(self, names, spatial):
        """One `_layer_norm` per name over ``out_depth`` channels (``norm_gain``/``norm_shift``)."""
        return tuple(
            self._layer_norm(name, self.norm_gain, self.norm_shift, self.out_depth, spatial)
            for name in names
        )

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

    # ---- config ------------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            shape=None if self.shape is None else list(self.shape),
            filter_size=list(self.filter_size),
            out_depth=self.out_depth,
        )
        for key in self._options():
            value = getattr(self, key)
            config[key] = dict(value) if isinstance(value, dict) else value
        return config
