"""Graph specs: nodes (harbor, pre-memory ops, memory cell, post-memory ops) and delayed edges."""

from convrnn_tf.graph.errors import SpecError
from convrnn_tf.graph.ops import OPS, op_names
from convrnn_tf.graph.spec import EdgeSpec, GraphSpec, NodeShapes, NodeSpec, OpSpec

__all__ = ["EdgeSpec", "GraphSpec", "NodeShapes", "NodeSpec", "OPS", "OpSpec", "SpecError", "op_names"]
