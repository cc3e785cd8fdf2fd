"""Local recurrent memories (cells) of graph nodes: one time step each, see `base`."""

from convrnn_tf.cells.base import ConvRNNCell
from convrnn_tf.cells.registry import get, names, register
from convrnn_tf.cells.time_decay import PassThrough, TimeDecay

__all__ = ["ConvRNNCell", "PassThrough", "TimeDecay", "get", "names", "register"]
