"""`ConvRNN`: a graph spec biologically unrolled in time, as a `keras.Model`.

At step ``t`` every node reads its predecessors' outputs from ``t-1`` (zeros at ``t=0``) and
the input node reads frame ``t``; weights are shared over time. ``call`` returns the decoded
logits of the output node; ``unroll`` returns any nodes' outputs at every step.
"""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf import decoders as decoders_lib
from convrnn_tf.graph.spec import FRAME, GraphSpec
from convrnn_tf.model import presentation as pres_lib
from convrnn_tf.model.node import Node
from convrnn_tf.model.plan import make_plan
from convrnn_tf.tracking import ListCheckpointDependencies


def default_times(spec: GraphSpec) -> int:
    """The original's default: longest feedforward input->output path, in nodes, plus one."""
    ff_succ = {n: [e.target for e in spec.edges if e.source == n and e.kind == "feedforward"] for n in spec.nodes}
    memo = {}

    def longest(n):  # nodes on the longest feedforward path from n to the output
        if n not in memo:
            memo[n] = None  # feedforward edges form a DAG; guard anyway
            tails = [longest(m) for m in ff_succ[n]]
            tails = [x for x in tails if x]
            memo[n] = 1 if n == spec.output else (1 + max(tails) if tails else 0)
        return memo[n] or 0

    return max(longest(n) for n in spec.inputs) + 1


@keras.saving.register_keras_serializable(package="convrnn_tf")
class ConvRNN(ListCheckpointDependencies, keras.Model):
    """A convolutional recurrent network unrolled over ``times`` steps.

    Args:
      spec: a `GraphSpec`, or anything `GraphSpec.from_json` reads.
      times: number of time steps (default: the presentation preset's, else the longest
        feedforward path in nodes plus one, as the original).
      presentation, image_off, blank: the image schedule (see `convrnn_tf.model.presentation`).
      decoder: a temporal decoder name, instance or config (see `convrnn_tf.decoders`);
        "last" reads the output node at the last step.
      decoder_start, decoder_end: the decoded window of steps, ``[start, end)``; by default
        ``[number of nodes, times)`` as the original (ignored by "last").
      prune: compute only node-steps that matter, sharing image-free ones across the batch
        (exactly equal to ``prune=False``, the naive unroll).
    """

    def __init__(self, spec, times=None, presentation="constant", image_off=None, blank=0.5,
                 decoder="last", decoder_start=None, decoder_end=None, prune=True, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec if isinstance(spec, GraphSpec) else GraphSpec.from_json(spec)
        self.presentation, times = pres_lib.resolve(presentation, times, image_off, blank, len(self.spec.nodes))
        self.times = default_times(self.spec) if times is None else times
        if self.presentation.kind == "movie" and self.presentation.image_off > self.times:
            raise ValueError(f"image_off={self.presentation.image_off} is after the last step (times={self.times})")
        self.prune = bool(prune)
        self.node_layers = [Node(self.spec.nodes[n], self.spec.shapes[n]) for n in self.spec.nodes]
        self._node_index = {n: i for i, n in enumerate(self.spec.nodes)}
        self.decoder = decoders_lib.make(decoder)
        self._last = type(self.decoder) is decoders_lib.get("last")
        start = len(self.spec.nodes) if decoder_start is None else decoder_start
        end = self.times if decoder_end is None else decoder_end
        self.decoder_start, self.decoder_end = decoder_start, decoder_end
        #: ``[start, end)`` of the decoded steps for a temporal decoder (also set for "last", which reads
        #: only ``times - 1``), e.g. for decoders fitted afterwards on this model's logits.
        self.decoder_bounds = (start, end)
        self.window = [self.times - 1] if self._last else list(range(start, end))
        if not self.window or self.window[0] < 0 or self.window[-1] >= self.times:
            raise ValueError(f"decoder window [{start}, {end}) is empty or outside steps 0..{self.times - 1}")
        if not self._last and len(self.spec.shapes[self.spec.output].output) != 1:
            raise ValueError(
                f"decoder {decoder!r} needs flat logits, but output node {self.spec.output!r} gives "
                f"{list(self.spec.shapes[self.spec.output].output)}"
            )
        self._stateful = {n: self.node(n).cell.depends_on_state for n in self.spec.nodes}
        self._plans = {}

    # ------------------------------------------------------------------ structure
    def node(self, name: str) -> Node:
        return self.node_layers[self._node_index[name]]

    @property
    def layer_start_times(self) -> dict[str, int]:
        """The original's per-layer output start steps (see `GraphSpec.layer_start_times`)."""
        return self.spec.layer_start_times()

    def plan(self, outputs=None, steps=None):
        """The `UnrollPlan` for the requested outputs (default: what ``call`` decodes)."""
        if outputs is None:
            requested = {self.spec.output: tuple(self.window)}
        else:
            steps = tuple(range(self.times)) if steps is None else tuple(steps)
            requested = {n: steps for n in outputs}
        key = tuple(sorted(requested.items()))
        if key not in self._plans:
            self._plans[key] = make_plan(self.spec, self.times, requested, self._stateful,
                                         self.presentation.is_image, self.prune)
        return self._plans[key]

    def build(self, input_shape=None):
        """Create every variable from the spec's static shapes (the batch size stays free)."""
        for layer in self.node_layers:
            if not layer.built:
                layer.build()
        out = self.spec.shapes[self.spec.output].output
        if not self._last and not self.decoder.built:
            self.decoder.build((None, len(self.window)) + tuple(out))
        self.built = True

    def get_build_config(self):
        # Shapes come from the spec; a non-empty config makes Keras call build_from_config.
        return {"from_spec": True}

    def build_from_config(self, config):
        self.build()

    # ------------------------------------------------------------------ running
    def _check_inputs(self, inputs):
        (inp,) = self.spec.inputs
        want = self.spec.nodes[inp].shape[-1]
        rank = 5 if self.presentation.kind == "video" else 4
        shape = tuple(inputs.shape)
        if len(shape) != rank or shape[-1] != want:
            what = "[B, T, H, W, C] video" if rank == 5 else "[B, H, W, C] images"
            raise ValueError(f"ConvRNN expects {what} with C={want} for input node {inp!r}, got shape {shape}")
        if rank == 5 and shape[1] is not None and shape[1] != self.times:
            raise ValueError(f"video has {shape[1]} frames but the model runs times={self.times} steps")

    def _run(self, inputs, plan, keep, training):
        """Run ``plan``; return ``{(node, t): output}`` for ``keep`` (``[B, ...]`` or ``[1, ...]``)."""
        inputs = ops.convert_to_tensor(inputs)
        self._check_inputs(inputs)
        if len(self.spec.inputs) != 1:
            raise ValueError(f"ConvRNN takes one input node; this spec has {self.spec.inputs}")
        inputs = ops.cast(inputs, self.compute_dtype)
        batch = ops.shape(inputs)[0]

        def widen(x):
            return ops.broadcast_to(x, (batch,) + tuple(x.shape[1:])) if x.shape[0] == 1 else x

        prev, states, kept = {}, {}, {}
        for t, step in enumerate(plan.steps):
            cur = {}
            for name, batched in step:
                layer = self.node(name)
                xs = []
                for src in layer.shapes.inputs:
                    if src == FRAME:
                        x = self.presentation.frame(inputs, t)
                    elif t == 0:
                        x = ops.zeros((1,) + self.spec.shapes[src].output, dtype=self.compute_dtype)
                    else:
                        x = prev[src]
                    xs.append(widen(x) if batched else x)
                st = states.get(name) if self._stateful[name] else None
                if st is None:
                    st = layer.get_initial_state(1)
                if batched:
                    st = tuple(widen(s) for s in st)
                y, st = layer(xs, st, training=training)
                cur[name], states[name] = y, st
                if (name, t) in keep:
                    kept[name, t] = y
            prev = cur
        return kept, widen

    def call(self, inputs, training=None):
        plan = self.plan()
        out = self.spec.output
        kept, widen = self._run(inputs, plan, {(out, t) for t in self.window}, training)
        if self._last:
            return ops.cast(widen(kept[out, self.window[0]]), "float32")
        seq = ops.stack([widen(kept[out, t]) for t in self.window], axis=1)
        return self.decoder(ops.cast(seq, "float32"))

    def unroll(self, inputs, outputs=None, steps=None, training=False):
        """Requested nodes' outputs over time: ``{node: [B, len(steps), ...]}``.

        ``outputs`` is a list of node names (default: the output node) or "all"; ``steps`` the
        time steps to return (default: all ``times``). Only what they need is computed.
        """
        if outputs is None:
            outputs = [self.spec.output]
        elif outputs == "all":
            outputs = list(self.spec.nodes)
        for n in outputs:
            if n not in self._node_index:
                raise ValueError(f"unknown node {n!r} in outputs; nodes are: {', '.join(self.spec.nodes)}")
        steps = list(range(self.times)) if steps is None else [int(t) for t in steps]
        if not steps or min(steps) < 0 or max(steps) >= self.times:
            raise ValueError(f"steps must be within 0..{self.times - 1}, got {steps}")
        if not self.built:
            self.build(tuple(ops.shape(inputs)))
        plan = self.plan(outputs, steps)
        kept, widen = self._run(inputs, plan, {(n, t) for n in outputs for t in steps}, training)
        return {n: ops.stack([widen(kept[n, t]) for t in steps], axis=1) for n in outputs}

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "spec": self.spec.to_json(),
            "times": self.times,
            "presentation": self.presentation.to_dict(),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "decoder_start": self.decoder_start,
            "decoder_end": self.decoder_end,
            "prune": self.prune,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["spec"] = GraphSpec.from_dict(config["spec"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)
