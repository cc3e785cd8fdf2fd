"""The biologically unrolled model: harbor, nodes, presentation, unroll planning."""

from convrnn_tf.model.convrnn import ConvRNN, default_times
from convrnn_tf.model.node import Harbor, Node
from convrnn_tf.model.plan import UnrollPlan, make_plan
from convrnn_tf.model.presentation import Presentation

__all__ = ["ConvRNN", "Harbor", "Node", "Presentation", "UnrollPlan", "default_times", "make_plan"]
