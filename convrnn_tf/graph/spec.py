"""`GraphSpec`: nodes (harbor -> pre-memory -> memory -> post-memory) and delayed edges.

Native JSON (round-trips through `GraphSpec.to_json` / `GraphSpec.from_json`)::

    {"format": "convrnn_tf.graph/1", "name": "...", "output": "imnetds",
     "nodes": [{"name": "conv1", "shape": [224, 224, 3],
                "harbor": {"spatial_op": "resize", "channel_op": "concat"},
                "pre_memory": [{"op": "conv", "out_depth": 64, "ksize": 7, "strides": 2}],
                "memory": {"cell": "timedecay", "memory_decay": 0.0, "trainable": false},
                "post_memory": [{"op": "max_pool"}]},
               {"name": "conv2", "shape_from": "conv1", ...}],
     "edges": [{"from": "conv1", "to": "conv2", "kind": "feedforward"}, ...]}

The original lab's JSON files are read as-is (see `convrnn_tf.graph.original`). Every edge costs
one time step, so any directed graph is legal. Loading validates everything and infers static
shapes; errors are `SpecError`s that name the node and key.
"""

from __future__ import annotations

import collections
import copy
import json
import math
import os
from dataclasses import dataclass, field

from convrnn_tf import cells as cells_lib
from convrnn_tf.graph import ops as ops_lib
from convrnn_tf.graph.errors import SpecError

FORMAT = "convrnn_tf.graph/1"
EDGE_KINDS = ("feedforward", "feedback")
_NODE_KEYS = ("name", "shape", "shape_from", "harbor", "pre_memory", "memory", "post_memory", "dtype")
_HARBOR_DEFAULTS = {"spatial_op": "resize", "channel_op": "concat"}
_CHANNEL_OPS = ("concat", "add")


@dataclass
class OpSpec:
    op: str
    kwargs: dict

    def to_dict(self):
        return {"op": self.op, **copy.deepcopy(self.kwargs)}


@dataclass
class NodeSpec:
    name: str
    shape: tuple | None
    shape_from: str | None
    harbor: dict
    pre_memory: list[OpSpec]
    memory: dict  # {"cell": name, **cell kwargs}
    post_memory: list[OpSpec]
    dtype: str = "float32"

    @property
    def is_input(self) -> bool:
        return self.shape is not None

    @property
    def cell_name(self) -> str:
        return self.memory["cell"]

    @property
    def cell_kwargs(self) -> dict:
        return {k: v for k, v in self.memory.items() if k != "cell"}

    def make_cell(self, **layer_kwargs):
        """A fresh cell layer for this node's memory."""
        return cells_lib.get(self.cell_name)(**copy.deepcopy(self.cell_kwargs), **layer_kwargs)

    def to_dict(self):
        d = {"name": self.name}
        if self.shape is not None:
            d["shape"] = list(self.shape)
        if self.shape_from is not None:
            d["shape_from"] = self.shape_from
        d["harbor"] = dict(self.harbor)
        d["pre_memory"] = [op.to_dict() for op in self.pre_memory]
        d["memory"] = copy.deepcopy(self.memory)
        d["post_memory"] = [op.to_dict() for op in self.post_memory]
        if self.dtype != "float32":
            d["dtype"] = self.dtype
        return d


@dataclass(frozen=True)
class EdgeSpec:
    source: str
    target: str
    kind: str = "feedforward"

    def to_dict(self):
        return {"from": self.source, "to": self.target, "kind": self.kind}


@dataclass
class NodeShapes:
    """Static per-example shapes of one node (no batch axis)."""

    inputs: list[str]  # harbor input order: "<frame>" for the image, then predecessor names
    harbor: tuple  # harbor output: (H, W, C) or (C,)
    ff: tuple  # what pre-memory sees: the feedforward slice for feedback-taking cells
    feedback: tuple | None  # the feedback slice handed to the cell, if any
    pre: list[tuple]  # input shape of each pre-memory op
    cell_input: tuple
    res_input: tuple | None
    post: list[tuple]  # input shape of each post-memory op
    output: tuple


FRAME = "<frame>"


class GraphSpec:
    """A validated graph of nodes and one-step edges, with inferred static shapes."""

    def __init__(self, nodes, edges, output=None, name=None, metadata=None):
        self.name = name
        self.metadata = dict(metadata or {})
        self.nodes: dict[str, NodeSpec] = {}
        for i, node in enumerate(nodes):
            node = node if isinstance(node, NodeSpec) else _parse_node(node, i)
            if node.name in self.nodes:
                raise SpecError(f"duplicate node name {node.name!r}", key="nodes")
            self.nodes[node.name] = node
        if not self.nodes:
            raise SpecError("the spec has no nodes", key="nodes")
        self.inputs = [n.name for n in self.nodes.values() if n.is_input]
        if not self.inputs:
            raise SpecError("no input node: exactly one node must give the input 'shape' [H, W, C]", key="nodes")
        self.edges = self._parse_edges(edges)
        self._preds = {n: sorted({e.source for e in self.edges if e.target == n}) for n in self.nodes}
        self._succs = {n: sorted({e.target for e in self.edges if e.source == n}) for n in self.nodes}
        self.depth = self._depths()
        self.edges = [self._kind(e) for e in self.edges]
        self.output = self._parse_output(output)
        self._cells = {name: self._make_cell(node) for name, node in self.nodes.items()}
        self.shapes: dict[str, NodeShapes] = self._infer_shapes()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_json(cls, source, cell=None):
        """Load a native or original-format spec from a path, a JSON string or a dict.

        ``cell`` names the recurrent cell of an original-format file's recurrent layers; by
        default it is the file name's prefix (``gru_shallow.json`` -> ``"gru"``).
        """
        from convrnn_tf.graph import original

        path = None
        if isinstance(source, dict):
            data = source
        elif isinstance(source, (str, os.PathLike)) and not str(source).lstrip().startswith("{"):
            path = os.fspath(source)
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
            except OSError as err:
                raise SpecError(f"cannot read graph spec file {path!r}: {err.strerror}") from None
            except json.JSONDecodeError as err:
                raise SpecError(f"graph spec file {path!r} is not valid JSON: {err}") from None
        else:
            try:
                data = json.loads(source)
            except json.JSONDecodeError as err:
                raise SpecError(f"graph spec string is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise SpecError(f"a graph spec must be a JSON object, got {type(data).__name__}")
        try:
            if original.is_original(data):
                return original.from_original(data, cell=cell, path=path)
            return cls.from_dict(data)
        except SpecError as err:
            if path is None:
                raise
            raise SpecError(f"{path}: {err}") from None

    @classmethod
    def from_dict(cls, data: dict):
        unknown = set(data) - {"format", "name", "output", "nodes", "edges", "metadata"}
        if unknown:
            raise SpecError(f"unknown top-level keys {sorted(unknown)}", key="spec")
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            raise SpecError(f"unsupported format {fmt!r}; this version reads {FORMAT!r}", key="format")
        if not isinstance(data.get("nodes"), list):
            raise SpecError("'nodes' must be a list of node objects", key="nodes")
        return cls(
            data["nodes"], data.get("edges", []), data.get("output"), data.get("name"), data.get("metadata")
        )

    def to_json(self, path=None) -> dict:
        """The native JSON dict; also written to ``path`` when given."""
        data = {"format": FORMAT}
        if self.name:
            data["name"] = self.name
        data["output"] = self.output
        data["nodes"] = [n.to_dict() for n in self.nodes.values()]
        data["edges"] = [e.to_dict() for e in self.edges]
        if self.metadata:
            data["metadata"] = copy.deepcopy(self.metadata)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
        return data

    def with_edges(self, extra, kind="feedback") -> "GraphSpec":
        """A copy with more edges, e.g. ``[("conv8", "conv5")]`` long-range feedback."""
        data = self.to_json()
        data["edges"] = data["edges"] + [{"from": a, "to": b, "kind": kind} for a, b in extra]
        return GraphSpec.from_dict(data)

    # ------------------------------------------------------------------ queries
    def predecessors(self, name: str) -> list[str]:
        """Predecessors in the original's order: Python string sort of their names."""
        return list(self._preds[name])

    def successors(self, name: str) -> list[str]:
        return list(self._succs[name])

    def cell(self, name: str):
        """The (unbuilt) cell instance made from this node's memory spec during validation."""
        return self._cells[name]

    @property
    def feedback_edges(self) -> list[EdgeSpec]:
        return [e for e in self.edges if e.kind == "feedback"]

    def layer_start_times(self) -> dict[str, int]:
        """The original's per-layer output start: one step after the first image-driven output.

        Node at depth d (the input node has d=0) is first image-driven at step d; the original
        (`layer_start_time`: l for conv<l>, num_layers for the readout) starts reporting at d+1.
        """
        return {n: d + 1 for n, d in self.depth.items() if d is not None}

    def __repr__(self):
        return f"GraphSpec(name={self.name!r}, nodes={list(self.nodes)}, edges={len(self.edges)}, output={self.output!r})"

    # ------------------------------------------------------------------ validation
    def _parse_edges(self, edges):
        if not isinstance(edges, list):
            raise SpecError("'edges' must be a list", key="edges")
        out, seen = [], set()
        for i, e in enumerate(edges):
            if isinstance(e, (list, tuple)) and len(e) in (2, 3):
                e = dict(zip(("from", "to", "kind"), e))
            if not isinstance(e, dict) or not {"from", "to"} <= set(e) or set(e) - {"from", "to", "kind"}:
                raise SpecError(f"edge must be {{'from': ..., 'to': ..., 'kind'?: ...}}, got {e!r}", key=f"edges[{i}]")
            for end in ("from", "to"):
                if e[end] not in self.nodes:
                    raise SpecError(
                        f"edge {e['from']!r} -> {e['to']!r} refers to unknown node {e[end]!r}; "
                        f"nodes are: {', '.join(self.nodes)}",
                        key=f"edges[{i}]",
                    )
            kind = e.get("kind")
            if kind is not None and kind not in EDGE_KINDS:
                raise SpecError(f"edge kind must be one of {EDGE_KINDS}, got {kind!r}", key=f"edges[{i}]")
            if (e["from"], e["to"]) in seen:
                raise SpecError(f"duplicate edge {e['from']!r} -> {e['to']!r}", key=f"edges[{i}]")
            seen.add((e["from"], e["to"]))
            out.append(EdgeSpec(e["from"], e["to"], kind))
        return out

    def _depths(self):
        """Shortest number of edges from an input node (None if unreachable)."""
        depth = {n: None for n in self.nodes}
        queue = collections.deque(self.inputs)
        for n in self.inputs:
            depth[n] = 0
        while queue:
            u = queue.popleft()
            for v in self._succs[u]:
                if depth[v] is None:
                    depth[v] = depth[u] + 1
                    queue.append(v)
        return depth

    def _kind(self, e: EdgeSpec) -> EdgeSpec:
        if e.kind is not None:
            return e
        du, dv = self.depth[e.source], self.depth[e.target]
        feedback = du is not None and dv is not None and dv <= du
        return EdgeSpec(e.source, e.target, "feedback" if feedback else "feedforward")

    def _parse_output(self, output):
        if output is None:
            sinks = [n for n in self.nodes if not self._succs[n]]
            if len(sinks) != 1:
                raise SpecError(
                    f"cannot tell the output node: nodes without successors are {sinks}; set 'output'",
                    key="output",
                )
            output = sinks[0]
        if output not in self.nodes:
            raise SpecError(f"output {output!r} is not a node; nodes are: {', '.join(self.nodes)}", key="output")
        if self.depth[output] is None:
            raise SpecError(f"output node {output!r} is unreachable from the input {self.inputs}", key="output")
        return output

    def _make_cell(self, node: NodeSpec):
        try:
            cls = cells_lib.get(node.cell_name)
        except ValueError as err:
            raise SpecError(str(err), node=node.name, key="memory.cell") from None
        try:
            return cls(**copy.deepcopy(node.cell_kwargs))
        except (TypeError, ValueError) as err:
            raise SpecError(f"bad {node.cell_name!r} cell arguments: {err}", node=node.name, key="memory") from None

    def _infer_shapes(self):
        for n in self.inputs:
            if self._preds[n] and self.nodes[n].shape_from is not None:
                raise SpecError("an input node takes its harbor size from 'shape', not 'shape_from'", node=n)
        order = self._shape_from_order()
        out: dict[str, tuple] = {}
        # Pass 1 sees only each node's feedforward source, as the original's init_nodes does;
        # later passes add every predecessor until the output shapes stop changing.
        for n in order:
            out[n] = self._node_shapes(n, out, ff_only=True).output
        for _ in range(len(self.nodes) + 1):
            shapes = {n: self._node_shapes(n, out, ff_only=False) for n in order}
            new = {n: s.output for n, s in shapes.items()}
            if new == out:
                return shapes
            out = new
        raise SpecError("node output shapes do not settle: a cycle without a conv keeps changing channel counts")

    def _shape_from_order(self):
        order, state = [], {}

        def visit(n, chain):
            if state.get(n) == "done":
                return
            if state.get(n) == "visiting":
                raise SpecError(f"shape_from forms a cycle: {' -> '.join(chain + [n])}", node=n, key="shape_from")
            state[n] = "visiting"
            node = self.nodes[n]
            if not node.is_input:
                src = node.shape_from
                if src is None:
                    preds = self._preds[n]
                    if len(preds) != 1:
                        raise SpecError(
                            f"needs 'shape_from' (the node whose output size sets its harbor size); predecessors: {preds}",
                            node=n,
                        )
                    node.shape_from = src = preds[0]
                if src not in self.nodes:
                    raise SpecError(f"shape_from names unknown node {src!r}", node=n, key="shape_from")
                visit(src, chain + [n])
            state[n] = "done"
            order.append(n)

        for n in self.nodes:
            visit(n, [])
        return order

    def _node_shapes(self, name, out, ff_only) -> NodeShapes:
        node = self.nodes[name]
        cell = self._cells[name]
        preds = self._preds[name]
        if node.is_input:
            sources, ff = [FRAME], FRAME
        else:
            sources, ff = [], node.shape_from
        if ff_only:
            sources = sources or [ff]
        else:
            sources = sources + list(preds)
            if cell.takes_feedback and ff in sources:
                sources.remove(ff)
                sources.insert(0, ff)  # the original's ff_inpnm: feedforward input first
            elif cell.takes_feedback and not node.is_input:
                raise SpecError(
                    f"cell {node.cell_name!r} splits feedforward from feedback, so shape_from "
                    f"{ff!r} must be a predecessor (predecessors: {preds})",
                    node=name,
                )
        in_shapes = [tuple(node.shape) if s == FRAME else out[s] for s in sources]
        harbor, ff_shape = self._harbor_shape(node, sources, in_shapes, out)
        feedback = None
        if cell.takes_feedback and harbor[-1] > ff_shape[-1]:
            feedback = harbor[:-1] + (harbor[-1] - ff_shape[-1],)
        shape = ff_shape if cell.takes_feedback else harbor
        pre, post, res = [], [], None
        for i, op in enumerate(node.pre_memory):
            pre.append(shape)
            if op.op == "residual_add":
                raise SpecError("residual_add belongs in post_memory", node=name, key=f"pre_memory[{i}]")
            if op.kwargs.get("return_input"):
                res = shape
            shape = ops_lib.output_shape(op.op, op.kwargs, shape, node=name, key=f"pre_memory[{i}]")
        cell_input = shape
        if cell.needs_res_input and res is None:
            raise SpecError(f"cell {node.cell_name!r} has a residual path, so a pre-memory conv must keep its "
                            "input (return_input: true)", node=name, key="memory")
        try:
            shape = tuple(cell.compute_output_shape((None,) + tuple(shape))[1:])
        except (TypeError, ValueError) as err:
            raise SpecError(f"cell {node.cell_name!r} cannot take input of shape {list(shape)}: {err}",
                            node=name, key="memory") from None
        for i, op in enumerate(node.post_memory):
            post.append(shape)
            if op.op == "residual_add":
                if res is None:
                    raise SpecError("residual_add needs an earlier conv with return_input: true",
                                    node=name, key=f"post_memory[{i}]")
                if len(res) != 3 or len(shape) != 3:
                    raise SpecError(f"residual_add needs spatial tensors, got {list(shape)} and kept {list(res)}",
                                    node=name, key=f"post_memory[{i}]")
            shape = ops_lib.output_shape(op.op, op.kwargs, shape, node=name, key=f"post_memory[{i}]")
        return NodeShapes(sources, harbor, ff_shape, feedback, pre, cell_input, res, post, tuple(shape))

    def _harbor_shape(self, node, sources, in_shapes, out):
        channel_op = node.harbor["channel_op"]
        if node.is_input:
            spatial = tuple(node.shape[:2])
        else:
            src_shape = out[node.shape_from]
            spatial = tuple(src_shape[:2]) if len(src_shape) == 3 else None
        if spatial is not None:
            for s, shp in zip(sources, in_shapes):
                if len(shp) != 3:
                    raise SpecError(
                        f"cannot harbor the flat output {list(shp)} of {s!r} into a spatial node "
                        f"of size {list(spatial)}",
                        node=node.name, key="harbor",
                    )
            chans = [shp[2] for shp in in_shapes]
        else:
            chans = [int(math.prod(shp)) for shp in in_shapes]
        if channel_op == "add" and len(set(chans)) > 1:
            raise SpecError(
                f"channel_op 'add' needs equal channel counts, got "
                f"{dict(zip(sources, chans))}; use 'concat' or match the depths",
                node=node.name, key="harbor",
            )
        total = chans[0] if channel_op == "add" else sum(chans)
        harbor = (spatial + (total,)) if spatial is not None else (total,)
        ff = (spatial + (chans[0],)) if spatial is not None else (chans[0],)
        return harbor, ff


def _parse_node(d, index) -> NodeSpec:
    if not isinstance(d, dict):
        raise SpecError(f"a node must be an object, got {d!r}", key=f"nodes[{index}]")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"every node needs a non-empty string 'name', got {name!r}", key=f"nodes[{index}]")
    unknown = set(d) - set(_NODE_KEYS)
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)}; valid are {list(_NODE_KEYS)}", node=name)
    shape = d.get("shape")
    if shape is not None:
        if (
            not isinstance(shape, (list, tuple))
            or len(shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
        ):
            raise SpecError(f"'shape' must be [H, W, C] positive ints, got {shape!r}", node=name, key="shape")
        shape = tuple(shape)
    shape_from = d.get("shape_from")
    if shape_from is not None and not isinstance(shape_from, str):
        raise SpecError(f"'shape_from' must be a node name, got {shape_from!r}", node=name, key="shape_from")
    harbor = d.get("harbor", {})
    if not isinstance(harbor, dict) or set(harbor) - set(_HARBOR_DEFAULTS):
        raise SpecError(f"harbor must be a dict with keys {list(_HARBOR_DEFAULTS)}, got {harbor!r}",
                        node=name, key="harbor")
    harbor = {**_HARBOR_DEFAULTS, **harbor}
    if harbor["spatial_op"] != "resize":
        raise SpecError(f"spatial_op {harbor['spatial_op']!r} is not supported (only 'resize')", node=name, key="harbor")
    if harbor["channel_op"] not in _CHANNEL_OPS:
        raise SpecError(f"channel_op must be one of {_CHANNEL_OPS}, got {harbor['channel_op']!r}", node=name, key="harbor")
    ops = {}
    for section in ("pre_memory", "post_memory"):
        entries = d.get(section, [])
        if not isinstance(entries, list):
            raise SpecError(f"{section} must be a list of ops", node=name, key=section)
        ops[section] = [OpSpec(*ops_lib.normalize_op(e, node=name, key=f"{section}[{i}]")) for i, e in enumerate(entries)]
    memory = d.get("memory", {"cell": "passthrough"})
    if not isinstance(memory, dict) or not isinstance(memory.get("cell"), str):
        raise SpecError(f"memory must be a dict with a 'cell' name, got {memory!r}", node=name, key="memory")
    dtype = d.get("dtype", "float32")
    if dtype not in ("float32", "float16", "bfloat16"):
        raise SpecError(f"dtype must be float32/float16/bfloat16, got {dtype!r}", node=name, key="dtype")
    return NodeSpec(name, shape, shape_from, harbor, ops["pre_memory"], copy.deepcopy(memory),
                    ops["post_memory"], dtype)
