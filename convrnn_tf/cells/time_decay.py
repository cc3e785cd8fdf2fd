"""Time-decay integrator and pass-through memories (original section 4.1)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.base import ConvRNNCell
from convrnn_tf.cells.registry import register


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("timedecay")
class TimeDecay(ConvRNNCell):
    """``s_t = m * s_{t-1} + x_t``, output ``s_t``; ``m`` is a scalar, unconstrained when learned.

    With ``trainable=False`` and ``memory_decay=0`` this is the original's pass-through memory of
    every non-recurrent layer (the variable still exists, as in the original checkpoints).
    """

    def __init__(self, memory_decay=0.0, trainable=False, **kwargs):
        # `trainable` is the decay's trainability (the original's JSON key), not the layer's.
        if isinstance(memory_decay, bool) or not isinstance(memory_decay, (int, float)):
            raise ValueError(f"TimeDecay: memory_decay must be a number, got {memory_decay!r}")
        if not isinstance(trainable, bool):
            raise ValueError(f"TimeDecay: trainable must be true or false, got {trainable!r}")
        super().__init__(**kwargs)
        self.memory_decay = float(memory_decay)
        self.decay_trainable = trainable

    def state_shapes(self, input_shape):
        return (tuple(input_shape[1:]),)

    @property
    def depends_on_state(self):
        return self.decay_trainable or self.memory_decay != 0.0

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        if feedback_shape is not None:
            raise ValueError("TimeDecay takes no separate feedback input")
        self.decay = self.add_weight(
            name="memory_decay",
            shape=(1,),
            initializer=keras.initializers.Constant(self.memory_decay),
            trainable=self.decay_trainable,
        )
        super().build(input_shape)

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        if not self.depends_on_state:
            return inputs, (ops.cast(inputs, "float32"),)
        (prev,) = states
        s = ops.cast(self.decay, "float32") * prev + ops.cast(inputs, "float32")
        return ops.cast(s, self.compute_dtype), (s,)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(memory_decay=self.memory_decay, trainable=self.decay_trainable)
        return config


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("passthrough")
class PassThrough(ConvRNNCell):
    """No memory: output ``x_t``, no state (a purely feedforward node)."""

    def state_shapes(self, input_shape):
        return ()

    @property
    def depends_on_state(self):
        return False

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        return inputs, ()

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
