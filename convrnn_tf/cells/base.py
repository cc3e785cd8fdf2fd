"""The contract every local recurrent memory of a graph node follows.

A cell computes one time step; the `ConvRNN` model owns time. Per step a node does
``harbor -> pre_memory -> cell -> post_memory`` and the cell is the only stateful part::

    output, new_states = cell(inputs, states, feedback=None, res_input=None, training=None)

* ``inputs``: the pre-memory output ``x_t``, ``[B, H, W, C]`` (or ``[B, C]`` for flat nodes).
* ``states``: a tuple of tensors from ``get_initial_state`` or the previous step. States are
  kept in float32 whatever the dtype policy, so long unrolls under ``mixed_bfloat16`` do not
  drift; cells cast them to the compute dtype inside ``call`` and return float32 states.
* ``feedback``: only for cells with ``takes_feedback = True``. The node's harbor then puts the
  feedforward input first, runs pre-memory on the feedforward channels only, and hands the
  remaining (resized, concatenated, sorted-by-name) feedback channels to the cell, which decides
  where they enter. For other cells feedback is concatenated in the harbor and goes through
  the pre-memory ops like any input; ``feedback`` is then ``None``.
* ``res_input``: the harbor output that fed the first pre-memory conv (the original's
  ``return_input``), for cells with residual paths; ``None`` when the node has none.

The model builds every cell explicitly, before its first call, with
``cell.build(input_shape, feedback_shape=None, res_input_shape=None)`` (shapes include the batch
axis, which may be ``None``; ``res_input_shape`` is given when the node keeps a conv input);
``build`` must validate shapes and raise a ``ValueError`` that names the problem.
"""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.tracking import ListCheckpointDependencies


class ConvRNNCell(ListCheckpointDependencies, keras.layers.Layer):
    """Base class of the recurrent memories (see the module docstring for the contract)."""

    #: Whether the node hands the feedback part of its harbor to this cell separately.
    takes_feedback: bool = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Keras would cast every floating argument, states included, to the compute dtype;
        # `__call__` below casts the inputs itself and keeps the states in float32.
        self._convert_input_args = False

    def __call__(self, inputs, states, feedback=None, res_input=None, **kwargs):
        dtype = self.compute_dtype

        def to_compute(x):
            return None if x is None else ops.cast(ops.convert_to_tensor(x), dtype)

        states = tuple(ops.cast(ops.convert_to_tensor(s), "float32") for s in states)
        return super().__call__(to_compute(inputs), states, feedback=to_compute(feedback),
                                res_input=to_compute(res_input), **kwargs)

    def state_shapes(self, input_shape):
        """Per-example shapes (no batch axis) of the states, as a tuple of tuples."""
        raise NotImplementedError

    #: Whether the cell reads ``res_input`` (a pre-memory conv must then set ``return_input``).
    needs_res_input: bool = False

    @property
    def depends_on_state(self) -> bool:
        """False only when the output provably ignores the previous state.

        The unroller uses this to prune steps exactly: a memory that ignores its state (a frozen
        zero decay) does not need its own past computed.
        """
        return True

    def get_initial_state(self, batch_size, input_shape=None):
        """Zero states of shape ``[batch_size, *state_shape]`` in float32."""
        if input_shape is None:
            input_shape = self._build_input_shape
        return tuple(
            ops.zeros((batch_size,) + tuple(shape), dtype="float32")
            for shape in self.state_shapes(input_shape)
        )

    def build(self, input_shape, feedback_shape=None, res_input_shape=None):
        self._build_input_shape = tuple(input_shape)
        self._build_feedback_shape = None if feedback_shape is None else tuple(feedback_shape)
        self.built = True

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        raise NotImplementedError
