"""`Harbor` and `Node`: what one graph node does at one time step.

``harbor -> pre_memory ops -> cell -> post_memory ops``; only the cell holds state.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from convrnn_tf.graph.spec import NodeShapes, NodeSpec, _parse_node
from convrnn_tf.model.ops import make_op
from convrnn_tf.model.resize import resize_align_corners
from convrnn_tf.tracking import ListCheckpointDependencies


@keras.saving.register_keras_serializable(package="convrnn_tf")
class Harbor(keras.layers.Layer):
    """Combine a node's inputs: resize each (bilinear, align corners) to ``spatial`` and
    concatenate on channels in the given order (or add); flat harbors flatten each input.

    With ``split=True`` returns ``(first input, concat(rest) or None)``: the feedforward and
    feedback parts for cells that take feedback separately.
    """

    def __init__(self, spatial=None, channel_op="concat", split=False, **kwargs):
        super().__init__(**kwargs)
        self.spatial = None if spatial is None else tuple(spatial)
        self.channel_op = channel_op
        self.split = split

    def _prepare(self, x):
        if self.spatial is None:
            size = 1
            for d in x.shape[1:]:
                size *= d
            return ops.reshape(x, (-1, size))
        return resize_align_corners(x, self.spatial)

    def call(self, inputs):
        xs = [self._prepare(x) for x in inputs]
        if self.split:
            fb = None if len(xs) == 1 else (xs[1] if len(xs) == 2 else ops.concatenate(xs[1:], axis=-1))
            return xs[0], fb
        if len(xs) == 1:
            return xs[0]
        if self.channel_op == "add":
            return sum(xs[1:], xs[0])
        return ops.concatenate(xs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "spatial": None if self.spatial is None else list(self.spatial),
                "channel_op": self.channel_op, "split": self.split}


@keras.saving.register_keras_serializable(package="convrnn_tf")
class Node(ListCheckpointDependencies, keras.layers.Layer):
    """One graph node; ``call(inputs, states) -> (output, new_states)``.

    ``inputs`` is the list of the node's inputs in harbor order (``shapes.inputs``): the image
    frame first for the input node, then predecessors sorted by name (the feedforward source
    first for cells that take feedback separately). Built from a `NodeSpec` and the static
    `NodeShapes` its `GraphSpec` inferred.
    """

    def __init__(self, node, shapes, **kwargs):
        node = node if isinstance(node, NodeSpec) else _parse_node(node, 0)
        shapes = shapes if isinstance(shapes, NodeShapes) else NodeShapes(
            **{k: (tuple(v) if isinstance(v, list) and k not in ("inputs", "pre", "post") else v)
               for k, v in shapes.items()})
        shapes.pre = [tuple(s) for s in shapes.pre]
        shapes.post = [tuple(s) for s in shapes.post]
        kwargs.setdefault("name", node.name)
        super().__init__(**kwargs)
        self.node = node
        self.shapes = shapes
        self.cell = node.make_cell(name="memory")
        spatial = shapes.harbor[:2] if len(shapes.harbor) == 3 else None
        self.harbor = Harbor(spatial, node.harbor["channel_op"], split=self.cell.takes_feedback, name="harbor")
        self.pre_ops = [make_op(op.op, op.kwargs, f"pre_{i}") for i, op in enumerate(node.pre_memory)]
        self.post_ops = [make_op(op.op, op.kwargs, f"post_{i}") for i, op in enumerate(node.post_memory)]

    def build(self, input_shape=None):
        s = self.shapes
        for op, shape in zip(self.pre_ops, s.pre):
            op.build((None,) + shape)
        fb = None if s.feedback is None else (None,) + s.feedback
        res = None if s.res_input is None else (None,) + s.res_input
        self.cell.build((None,) + s.cell_input, feedback_shape=fb, res_input_shape=res)
        for op, shape, spec in zip(self.post_ops, s.post, self.node.post_memory):
            if spec.op == "residual_add":
                op.build((None,) + shape, (None,) + s.res_input)
            else:
                op.build((None,) + shape)
        self.built = True

    def get_initial_state(self, batch_size=1):
        return self.cell.get_initial_state(batch_size, (None,) + self.shapes.cell_input)

    def call(self, inputs, states, training=None):
        if self.cell.takes_feedback:
            x, feedback = self.harbor(inputs)
        else:
            x, feedback = self.harbor(inputs), None
        res = None
        for op, spec in zip(self.pre_ops, self.node.pre_memory):
            if spec.kwargs.get("return_input"):
                res = x
            x = op(x, training=training) if spec.op == "dropout" else op(x)
        y, new_states = self.cell(x, states, feedback=feedback, res_input=res, training=training)
        for op, spec in zip(self.post_ops, self.node.post_memory):
            if spec.op == "residual_add":
                y = op(y, res)
            elif spec.op == "dropout":
                y = op(y, training=training)
            else:
                y = op(y)
        return y, tuple(new_states)

    def get_config(self):
        return {**super().get_config(), "node": self.node.to_dict(), "shapes": dataclasses.asdict(self.shapes)}
