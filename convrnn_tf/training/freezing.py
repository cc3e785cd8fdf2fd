"""Which weights of a `ConvRNN` are "recurrent" (trained on neural data) and which stay frozen.

The seed experiment: feedforward weights optimised for categorisation, recurrent weights optimised
to match neural dynamics. Every trainable variable of the model gets one *role*:

* ``cells``: a local recurrent cell's weights (``<node>/memory/...``), including the feedback
  projections of cells that take feedback separately (the reciprocal gated cell);
* ``feedback``: a long-range feedback projection that the harbor concatenates into a node's input,
  so that it lives in the input-channel rows of the node's first pre-memory conv/fc kernel
  (the rows fed by feedback sources); only those rows are trainable, the feedforward rows stay frozen;
* ``decoder``: the temporal decoder's weights;
* ``feedforward``: everything else (pre/post-memory convs and fcs, including the readout).

`partition` resolves roles into a `Partition` (what to train, whole or masked); regular expressions
on variable paths override it both ways. `Partition.describe` is the table the training log shows.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

ROLES = ("cells", "feedback", "decoder", "feedforward")
DEFAULT_TRAINABLE = ("cells", "feedback", "decoder")


@dataclasses.dataclass
class Entry:
    """One variable: its path relative to the model, role, and what training may change."""

    variable: object
    path: str
    role: str
    trainable: bool
    mask: np.ndarray | None = None  #: bool, same shape as the variable: True where trainable


@dataclasses.dataclass
class Partition:
    """The resolved split of a model's variables (see the module docstring)."""

    entries: list

    @property
    def trainable(self) -> list:
        """Variables the optimiser updates (masked ones included)."""
        return [e.variable for e in self.entries if e.trainable]

    @property
    def frozen(self) -> list:
        return [e.variable for e in self.entries if not e.trainable]

    @property
    def masked(self) -> list:
        return [e for e in self.entries if e.trainable and e.mask is not None]

    def count(self, trainable=True) -> int:
        """Number of scalars that training changes (``trainable``) or keeps fixed."""
        n = 0
        for e in self.entries:
            size = int(np.prod(e.variable.shape))
            inside = size if e.mask is None else int(e.mask.sum())
            n += (inside if e.trainable else 0) if trainable else (size - (inside if e.trainable else 0))
        return n

    def describe(self) -> str:
        """A table: every variable, its role and whether (which part of it) is trained."""
        width = max([len(e.path) for e in self.entries] + [8])
        lines = [f"{'variable':<{width}}  {'shape':<18} {'role':<11} status"]
        for e in self.entries:
            if not e.trainable:
                status = "frozen"
            elif e.mask is None:
                status = "trained"
            else:
                status = f"trained {int(e.mask.sum())}/{e.mask.size} (feedback rows), rest frozen"
            lines.append(f"{e.path:<{width}}  {str(list(e.variable.shape)):<18} {e.role:<11} {status}")
        lines.append(f"trained scalars: {self.count(True):,}; frozen scalars: {self.count(False):,}")
        return "\n".join(lines)


def _relative(model, variable):
    path = variable.path
    prefix = model.name + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def _input_slices(spec, node):
    """``[(source, start, stop)]``: where each harbor input lies along the concatenated channel axis."""
    shapes = spec.shapes[node]
    spatial = len(shapes.harbor) == 3
    out, start = [], 0
    for src in shapes.inputs:
        shape = spec.shapes[src].output if src in spec.shapes else tuple(spec.nodes[node].shape)
        size = shape[-1] if spatial else int(np.prod(shape))
        out.append((src, start, start + size))
        start += size
    return out


def feedback_rows(model):
    """``{node: [(source, start, stop)]}``: kernel input rows fed by feedback edges, for nodes whose
    harbor concatenates feedback into the first pre-memory conv/fc (cells that take feedback
    themselves keep their feedback weights in the cell)."""
    spec = model.spec
    out = {}
    for edge in spec.feedback_edges:
        node = spec.nodes[edge.target]
        layer = model.node(edge.target)
        if layer.cell.takes_feedback or node.harbor.get("channel_op", "concat") != "concat":
            continue
        if not node.pre_memory or node.pre_memory[0].op not in ("conv", "fc"):
            continue
        rows = [s for s in _input_slices(spec, edge.target) if s[0] == edge.source]
        out.setdefault(edge.target, []).extend(rows)
    return out


def _role(path, var, rows, decoder):
    """``(role, mask)`` of one variable; ``mask`` marks the feedback rows of a ``feedback`` kernel."""
    if id(var) in decoder:
        return "decoder", None
    parts = path.split("/")
    if len(parts) > 1 and parts[1] == "memory":
        return "cells", None
    if parts[0] in rows and parts[1:] == ["pre_0", "kernel"]:
        mask = np.zeros(var.shape, bool)
        for _, start, stop in rows[parts[0]]:
            mask[..., start:stop, :] = True  # the input-channel axis of conv [kh, kw, in, out] and fc [in, out]
        return "feedback", mask
    return "feedforward", None


def partition(model, trainable=DEFAULT_TRAINABLE, train_patterns=(), freeze_patterns=()) -> "Partition":
    """Resolve which of ``model``'s trainable variables neural training may change.

    trainable: roles to train (a subset of ``ROLES``); train_patterns / freeze_patterns: regular
    expressions searched in variable paths (relative to the model, e.g. ``conv4/pre_0/kernel``) that
    train or freeze a whole variable whatever its role (freeze wins). Variables the model itself
    marks non-trainable are never listed.
    """
    unknown = [r for r in trainable if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown variable role(s) {unknown}; roles are {list(ROLES)}")
    if not model.built:
        model.build()
    train_re = [re.compile(p) for p in train_patterns]
    freeze_re = [re.compile(p) for p in freeze_patterns]
    rows = feedback_rows(model)
    decoder = {id(v) for v in model.decoder.weights}
    entries = []
    for var in model.trainable_variables:
        path = _relative(model, var)
        role, mask = _role(path, var, rows, decoder)
        on = role in trainable
        if any(r.search(path) for r in train_re):
            on, mask = True, None
        if any(r.search(path) for r in freeze_re):
            on = False
        entries.append(Entry(var, path, role, on, mask if on else None))
    return Partition(entries)
