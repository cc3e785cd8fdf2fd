"""The contract of temporal decoders, and the numerics they share.

A decoder maps a window of per-step logits ``L`` of shape ``[B, T', K]`` to one logit vector
``[B, K]``; the model chooses the window (original section 6.1), the decoder only reads it.
Decoders compute in float32: their dtype policy defaults to "float32" whatever the global
policy (e.g. ``mixed_bfloat16``), and inputs and weights are cast to float32 inside ``call``.
"""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.tracking import ListCheckpointDependencies


def check_flag(value, what: str, where: str) -> bool:
    """``value`` if it is a bool; a `ValueError` naming ``where`` otherwise."""
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {what} must be true or false, got {value!r}")
    return value


def check_number(value, what: str, where: str) -> float:
    """``value`` as a float if it is a (non-bool) real number; a `ValueError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {what} must be a number, got {value!r}")
    return float(value)


def softmax(x, axis, beta=None):
    """Max-subtracted ``exp(b x) / sum exp(b x)`` along ``axis``; ``beta`` broadcasts against x."""
    z = x if beta is None else beta * x
    z = z - ops.stop_gradient(ops.max(z, axis=axis, keepdims=True))
    e = ops.exp(z)
    return e / ops.sum(e, axis=axis, keepdims=True)


def first_argmax(x):
    """Index of the maximum along axis 1 of a rank-2 or rank-3 tensor, the first one on ties."""
    n = ops.shape(x)[1]
    steps = ops.arange(n, dtype="int32")
    if len(x.shape) == 3:
        steps = ops.expand_dims(steps, 1)
    is_max = x >= ops.max(x, axis=1, keepdims=True)
    first = ops.min(ops.where(is_max, steps, n), axis=1)
    # NaNs match nothing; clip so the gather stays in range (the value is then meaningless).
    return ops.minimum(first, n - 1)


def take_steps(logits, steps):
    """``L[b, steps[b], :]`` for ``steps`` of shape [B]; ``L[b, steps[b, k], k]`` for [B, K]."""
    if len(steps.shape) == 1:
        idx = ops.reshape(steps, (-1, 1, 1))
    else:
        idx = ops.expand_dims(steps, 1)
    idx = ops.cast(idx, "int32")
    if len(steps.shape) == 1:
        idx = ops.broadcast_to(idx, (ops.shape(logits)[0], 1, ops.shape(logits)[2]))
    # Squeeze only the time axis: batch size 1 keeps its batch axis.
    return ops.squeeze(ops.take_along_axis(logits, idx, axis=1), axis=1)


class TemporalDecoder(ListCheckpointDependencies, keras.layers.Layer):
    """Base class: ``[B, T', K]`` logits -> ``[B, K]``, in float32.

    Subclasses set the class attributes ``needs_static_time`` / ``needs_static_classes`` when
    their weights depend on ``T'`` / ``K``, and implement ``decode(logits)`` on float32 logits.
    """

    needs_static_time: bool = False
    needs_static_classes: bool = False
    registered_name: str = "decoder"

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    # -- shapes ------------------------------------------------------------------------------
    def check_input_shape(self, input_shape):
        """``(T', K)`` of a valid input shape (None where dynamic); a `ValueError` otherwise."""
        where = f"{self.registered_name} decoder {self.name!r}"
        try:
            shape = tuple(input_shape)
        except TypeError:
            raise ValueError(f"{where}: expected an input shape, got {input_shape!r}") from None
        if len(shape) != 3:
            raise ValueError(
                f"{where}: expects logits of rank 3 [batch, time, classes], got shape {shape}"
            )
        _, steps, classes = shape
        if self.needs_static_time and steps is None:
            raise ValueError(f"{where}: needs a static number of time steps, got shape {shape}")
        if self.needs_static_classes and classes is None:
            raise ValueError(f"{where}: needs a static number of classes, got shape {shape}")
        if steps is not None and steps < 1:
            raise ValueError(f"{where}: needs at least one time step, got shape {shape}")
        if classes is not None and classes < 1:
            raise ValueError(f"{where}: needs at least one class, got shape {shape}")
        return steps, classes

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return (shape[0], shape[2])

    # -- weights -----------------------------------------------------------------------------
    def add_scalar(self, name, value, trainable):
        """A shape-[1] float32 weight: constant ``value`` and frozen, or uniform [0, 1) and learned.

        This is the original's ``softmax_beta`` / ``decoder_threshold`` convention.
        """
        if trainable:
            initializer = keras.initializers.RandomUniform(0.0, 1.0)
        else:
            initializer = keras.initializers.Constant(value)
        return self.add_weight(
            name=name, shape=(1,), initializer=initializer, trainable=trainable, dtype="float32"
        )

    # -- call --------------------------------------------------------------------------------
    def call(self, inputs):
        logits = ops.cast(inputs, "float32")
        if len(logits.shape) != 3:
            self.check_input_shape(logits.shape)  # raises the readable error
        return self.decode(logits)

    def decode(self, logits):
        raise NotImplementedError
