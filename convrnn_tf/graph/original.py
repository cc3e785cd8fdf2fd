"""Read the original lab's (tnn / convrnns) JSON graph specs as-is.

Their nodes carry ``{"function": ...}`` dicts for harbor, ops and memory (original doc section 1).
Ops are translated to the native vocabulary of `convrnn_tf.graph.ops`, keeping the original's
defaults where the JSON is silent (``model_tool.conv``/``fc`` default to ReLU, ``fc`` to bias 1).
"""

from __future__ import annotations

import os

from convrnn_tf.graph.errors import SpecError

#: The cell names of the original zoo, keyed by the model-file prefix (``gru_shallow`` -> "gru").
ORIGINAL_CELLS = ("rgc", "lstm", "gru", "ugrnn", "intersectionrnn", "simplernn", "timedecay")
_ACTIVATION_OPS = ("elu", "relu", "sigmoid", "tanh", "softplus", "selu")
_DECAY_KEYS = {"memory_decay", "trainable"}


def is_original(data: dict) -> bool:
    nodes = data.get("nodes")
    return (
        isinstance(nodes, list)
        and bool(nodes)
        and isinstance(nodes[0], dict)
        and isinstance(nodes[0].get("memory"), dict)
        and "function" in nodes[0]["memory"]
    )


def _conv(kw, *, component):
    out = {
        "op": "conv",
        "out_depth": kw.get("out_depth"),
        "ksize": kw.get("ksize"),
        "strides": kw.get("strides", 1),
        "padding": kw.get("padding", "SAME"),
        # component_conv defaults to no activation; model_tool.conv to relu.
        "activation": kw.get("activation", None if component else "relu"),
        "bias": kw.get("bias", 0),
        "kernel_init": kw.get("kernel_init", "xavier"),
        "kernel_init_kwargs": kw.get("kernel_init_kwargs", {}),
        "weight_decay": kw.get("weight_decay"),
    }
    if component:
        out["return_input"] = kw.get("return_input", False)
        out["input_name"] = kw.get("input_name")
    return out


def _translate_op(entry, node, key):
    if not isinstance(entry, dict) or "function" not in entry:
        raise SpecError(f"an original op must be a dict with 'function', got {entry!r}", node=node, key=key)
    kw = dict(entry)
    fn = kw.pop("function")
    kw.pop("name", None)  # TF op names carry no meaning here
    if kw.pop("batch_norm", False):
        raise SpecError(f"{fn!r} with batch_norm: true is not supported", node=node, key=key)
    if fn == "component_conv":
        known = {"out_depth", "ksize", "strides", "padding", "activation", "bias", "kernel_init",
                 "kernel_init_kwargs", "weight_decay", "return_input", "input_name"}
        op = _conv(kw, component=True)
    elif fn == "conv":
        known = {"out_depth", "ksize", "strides", "padding", "activation", "bias", "kernel_init",
                 "kernel_init_kwargs", "weight_decay"}
        op = _conv(kw, component=False)
    elif fn == "fc":
        known = {"out_depth", "activation", "bias", "kernel_init", "kernel_init_kwargs", "weight_decay"}
        op = {"op": "fc", "out_depth": kw.get("out_depth"), "activation": kw.get("activation", "relu"),
              "bias": kw.get("bias", 1), "kernel_init": kw.get("kernel_init", "xavier"),
              "kernel_init_kwargs": kw.get("kernel_init_kwargs", {}), "weight_decay": kw.get("weight_decay")}
    elif fn == "dropout":
        known = {"keep_prob", "seed"}
        op = {"op": "dropout", "rate": 1.0 - float(kw.get("keep_prob", 1.0)), "seed": kw.get("seed")}
    elif fn in ("max_pool", "avg_pool"):
        known = {"ksize", "strides", "padding"}
        op = {"op": fn, **{k: kw[k] for k in known if k in kw}}
    elif fn == "global_pool":
        known = {"kind"}
        op = {"op": "global_pool", "kind": kw.get("kind", "avg")}
    elif fn in ("flatten", "identity", "residual_add"):
        known = set()
        op = {"op": fn}
    elif fn in _ACTIVATION_OPS:
        known = set()
        op = {"op": "activation", "activation": fn}
    else:
        raise SpecError(f"unknown op function {fn!r}", node=node, key=key)
    extra = set(kw) - known
    if extra:
        raise SpecError(f"{fn!r} has unsupported arguments {sorted(extra)}", node=node, key=key)
    return op


def _memory(mem, node, cell):
    kw = {k: v for k, v in mem.items() if k != "function"}
    if mem.get("function") != "memory":
        raise SpecError(f"unknown memory function {mem.get('function')!r}", node=node, key="memory")
    if set(kw) <= _DECAY_KEYS:
        return {"cell": "timedecay", "memory_decay": kw.get("memory_decay", 0.0),
                "trainable": kw.get("trainable", False)}
    if cell is None:
        raise SpecError(
            f"memory has recurrent-cell arguments {sorted(kw)} but the cell type is unknown; "
            f"pass cell= one of {', '.join(ORIGINAL_CELLS)} (or name the file <cell>_<depth>.json)",
            node=node, key="memory",
        )
    if cell == "timedecay":
        return {"cell": "timedecay", "memory_decay": kw.get("memory_decay", 0.0), "trainable": True}
    if cell == "rgc" and "out_depth" not in kw:
        # The intermediate RGC files hold a partial dict; the original model_func always merges
        # the median cell parameters (and its four feedback overrides) over it.
        from convrnn_tf.cells import median_config

        return {"cell": "rgc", **median_config(shape=kw.get("shape"))}
    return {"cell": cell, **kw}


def _cell_from_path(path):
    if path is None:
        return None
    prefix = os.path.basename(path).split("_")[0]
    return prefix if prefix in ORIGINAL_CELLS else None


def from_original(data: dict, cell=None, path=None):
    """A `GraphSpec` from an original-format dict; ``cell`` sets the recurrent layers' cell."""
    from convrnn_tf.graph.spec import GraphSpec

    cell = cell or _cell_from_path(path)
    nodes = []
    for i, n in enumerate(data["nodes"]):
        if not isinstance(n, dict) or "name" not in n:
            raise SpecError(f"a node must be an object with a 'name', got {n!r}", key=f"nodes[{i}]")
        name = n["name"]
        for init in ("input_init", "state_init"):
            fn = (n.get(init) or {}).get("function", "zeros")
            if fn != "zeros":
                raise SpecError(f"{init} {fn!r} is not supported (only 'zeros')", node=name, key=init)
        harbor = n.get("harbor", {})
        if harbor.get("preproc") is not None:
            raise SpecError(f"harbor preproc {harbor['preproc']!r} is not supported", node=name, key="harbor")
        node = {
            "name": name,
            "harbor": {"spatial_op": harbor.get("spatial_op", "resize"),
                       "channel_op": harbor.get("channel_op", "concat")},
            "pre_memory": [_translate_op(e, name, f"pre_memory[{j}]") for j, e in enumerate(n.get("pre_memory", []))],
            "memory": _memory(n.get("memory", {"function": "memory"}), name, cell),
            "post_memory": [_translate_op(e, name, f"post_memory[{j}]") for j, e in enumerate(n.get("post_memory", []))],
            "dtype": n.get("dtype", "float32"),
        }
        for k in ("shape", "shape_from"):
            if k in n:
                node[k] = n[k]
        nodes.append(node)
    edges = data.get("edges", [])
    if not isinstance(edges, list):
        raise SpecError("'edges' must be a list", key="edges")
    name = os.path.splitext(os.path.basename(path))[0] if path else None
    meta = {"source_format": "tnn", "cell": cell}
    return GraphSpec(nodes, [{"from": e.get("from"), "to": e.get("to")} if isinstance(e, dict) else e for e in edges],
                     name=name, metadata=meta)
