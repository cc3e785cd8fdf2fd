"""A readable account of a built model: per-node shapes over time, timing and parameters."""

from __future__ import annotations

import math


def describe(model, outputs=None) -> str:
    """Per node: output shape over all steps ``[B, T, ...]``, first image-driven step, the
    original's start time, parameter count; then the unroll plan and the totals."""
    spec = model.spec
    if not model.built:
        model.build()
    plan = model.plan()
    rows = [("node", "cell", "output [B, T, ...]", "image at", "start", "params")]
    for name in spec.nodes:
        layer = model.node(name)
        shape = ("B", model.times) + tuple(spec.shapes[name].output)
        params = sum(math.prod(v.shape) for v in layer.weights)
        depth = spec.depth[name]
        rows.append((name, spec.nodes[name].cell_name, "[" + ", ".join(map(str, shape)) + "]",
                     "-" if depth is None else str(depth), str(model.layer_start_times.get(name, "-")),
                     f"{params:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    fb = ", ".join(f"{e.source}->{e.target}" for e in spec.feedback_edges) or "none"
    total = sum(math.prod(v.shape) for v in model.weights)
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    lines += [
        "",
        f"spec {spec.name or '(unnamed)'}: {len(spec.nodes)} nodes, {len(spec.edges)} edges, feedback: {fb}",
        f"times {model.times}, presentation {model.presentation.kind}"
        + (f" (image off at {model.presentation.image_off})" if model.presentation.image_off is not None else "")
        + f", decoder {model.decoder.name} over steps {model.window[0]}..{model.window[-1]}",
        f"unroll: {plan.batched_node_steps} batched + {plan.shared_node_steps} shared node-steps "
        f"(naive: {len(spec.nodes) * model.times} batched)",
        f"parameters: {total:,} ({trainable:,} trainable)",
    ]
    return "\n".join(lines)
