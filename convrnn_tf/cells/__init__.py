"""Local recurrent memories (cells) of graph nodes: one time step each, see `base`."""

from convrnn_tf.cells.base import ConvRNNCell
from convrnn_tf.cells.registry import get, names, register
from convrnn_tf.cells.time_decay import PassThrough, TimeDecay

__all__ = ["ConvRNNCell", "PassThrough", "TimeDecay", "get", "names", "register"]
from convrnn_tf.cells.conv_lstm import ConvLSTM  # noqa: E402
from convrnn_tf.cells.conv_gru import ConvGRU  # noqa: E402
from convrnn_tf.cells.ugrnn import ConvUGRNN  # noqa: E402
from convrnn_tf.cells.intersection_rnn import ConvIntersectionRNN  # noqa: E402
from convrnn_tf.cells.simple_rnn import ConvSimpleRNN  # noqa: E402
from convrnn_tf.cells.reciprocal_gated import ReciprocalGatedCell, median_config, shallow_config  # noqa: E402,F401
