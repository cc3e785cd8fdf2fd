"""Which node-steps an unroll computes, and at what batch size.

The unroll is exact but lazy (the issue's "compute only what matters"):

* **Light cone.** Node ``n`` at step ``t`` reads its predecessors at ``t-1`` and, when its cell
  depends on its state, itself at ``t-1``. Only node-steps inside the backward light cone of the
  requested outputs are computed.
* **Image-free steps.** A node-step that cannot yet depend on the image (node at depth ``d``
  before step ``d``; blank frames of a movie and what only they drive) is the same for every
  example, so it is computed once at batch size 1 and broadcast when a batched step reads it.

``prune=False`` gives the naive plan (every node, every step, full batch), the reference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class UnrollPlan:
    times: int
    steps: list[list[tuple[str, bool]]]  # per step: (node, batched) in computation order

    @property
    def batched_node_steps(self) -> int:
        return sum(b for step in self.steps for _, b in step)

    @property
    def shared_node_steps(self) -> int:
        """Node-steps computed once at batch size 1."""
        return sum(not b for step in self.steps for _, b in step)

    @property
    def node_steps(self) -> int:
        return sum(len(step) for step in self.steps)


def make_plan(spec, times, requested, stateful, frame_is_image, prune=True) -> UnrollPlan:
    """Plan an unroll of ``spec`` over ``times`` steps.

    Args:
      requested: ``{node: iterable of steps}`` whose outputs are wanted.
      stateful: ``{node: bool}``, whether the node's cell output depends on its state.
      frame_is_image: ``t -> bool``, whether the input frame at ``t`` depends on the input.
    """
    order = list(spec.nodes)
    if not prune:
        return UnrollPlan(times, [[(n, True) for n in order] for _ in range(times)])
    needed = set()
    stack = [(n, t) for n, ts in requested.items() for t in ts]
    while stack:
        n, t = stack.pop()
        if (n, t) in needed:
            continue
        needed.add((n, t))
        if t > 0:
            stack.extend((p, t - 1) for p in spec.predecessors(n))
            if stateful[n]:
                stack.append((n, t - 1))
    image = {}
    for t in range(times):
        for n in order:
            image[n, t] = (
                (spec.nodes[n].is_input and frame_is_image(t))
                or (t > 0 and any(image[p, t - 1] for p in spec.predecessors(n)))
                or (t > 0 and stateful[n] and image[n, t - 1])
            )
    return UnrollPlan(times, [[(n, image[n, t]) for n in order if (n, t) in needed] for t in range(times)])
