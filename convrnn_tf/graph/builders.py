"""Small programmatic specs: feedforward chains with optional feedback, for demos and tests."""

from __future__ import annotations

from convrnn_tf.graph.spec import GraphSpec


FROZEN = {"memory_decay": 0.0, "trainable": False}


_CONV_CELLS = ("gru", "lstm", "ugrnn", "intersectionrnn", "simplernn")


def default_cell_kwargs(cell, out_depth):
    """Constructor arguments that make ``cell`` keep the node's depth (3x3 filters)."""
    if cell == "timedecay":
        return {"memory_decay": 0.0, "trainable": True}
    if cell in _CONV_CELLS:
        return {"filter_size": [3, 3], "out_depth": out_depth}
    if cell == "rgc":  # the shallow RGC's settings (rgc_shallow), at this depth
        from convrnn_tf.cells import shallow_config

        return {**shallow_config("conv3"), "shape": None, "out_depth": out_depth, "cell_depth": out_depth}
    return {}


def conv_node(name, out_depth, *, ksize=3, strides=1, pool=False, cell="timedecay", cell_kwargs=None,
              shape=None, shape_from=None, activation="elu"):
    """A node ``conv -> cell -> [max_pool]`` in the native format.

    ``cell_kwargs`` are merged over `default_cell_kwargs` (which keep the depth at ``out_depth``).
    """
    node = {
        "name": name,
        "pre_memory": [{"op": "conv", "out_depth": out_depth, "ksize": ksize, "strides": strides,
                        "activation": activation, "weight_decay": 1e-4, "return_input": True}],
        "memory": {"cell": cell, **default_cell_kwargs(cell, out_depth), **(cell_kwargs or {})},
        "post_memory": [{"op": "max_pool"}] if pool else [],
    }
    if shape is not None:
        node["shape"] = list(shape)
    if shape_from is not None:
        node["shape_from"] = shape_from
    return node


def chain(depth=5, input_shape=(64, 64, 3), base_depth=16, classes=10, cell="timedecay", cell_kwargs=None,
          feedback=(), recurrent_from=3, stateful_readout=False, name=None) -> GraphSpec:
    """``conv1 -> ... -> conv<depth-1> -> readout``: a small zoo-like convRNN.

    conv1 is a 5x5 stride-2 conv (like the original's 7x7/2); channels double (and the map
    halves) every other layer; ``readout`` is global average pool
    plus an fc layer to ``classes`` logits. ``feedback`` lists extra ``(source, target)`` edges.
    Layers from ``recurrent_from`` on get ``cell``; earlier ones a frozen zero decay (no memory,
    like the original's first layers). The readout has no memory unless ``stateful_readout``.
    """
    if depth < 2:
        raise ValueError(f"chain depth must be >= 2 (convs plus the readout), got {depth}")
    nodes, edges, prev, chans = [], [], None, base_depth
    for i in range(1, depth):
        pool = i % 2 == 1
        nodes.append(conv_node(f"conv{i}", chans, ksize=5 if i == 1 else 3, strides=2 if i == 1 else 1, pool=pool,
                               cell="timedecay" if i < recurrent_from else cell,
                               cell_kwargs=FROZEN if i < recurrent_from else cell_kwargs,
                               shape=input_shape if i == 1 else None, shape_from=prev))
        if i > 1:
            edges.append({"from": prev, "to": f"conv{i}"})
        if not pool:
            chans *= 2
        prev = f"conv{i}"
    nodes.append({"name": "readout", "shape_from": prev,
                  "pre_memory": [{"op": "global_pool"}, {"op": "fc", "out_depth": classes,
                                                          "kernel_init": "random_normal",
                                                          "kernel_init_kwargs": {"stddev": 0.01}}],
                  "memory": ({"cell": "timedecay", "memory_decay": 0.0, "trainable": True}
                             if stateful_readout else {"cell": "passthrough"}),
                  "post_memory": []})
    edges.append({"from": prev, "to": "readout"})
    edges += [{"from": a, "to": b, "kind": "feedback"} for a, b in feedback]
    return GraphSpec(nodes, edges, output="readout", name=name or f"chain{depth}")


def feedforward(spec: GraphSpec, name=None) -> GraphSpec:
    """The same net without recurrence: every memory a frozen zero decay, no feedback edges.

    The feedforward baseline of a convRNN: pre- and post-memory ops (and so the feedforward
    weights) are kept; shapes are re-inferred, since some cells change a node's depth.
    """
    data = spec.to_json()
    for node in data["nodes"]:
        node["memory"] = {"cell": "timedecay", **FROZEN}
    data["edges"] = [e for e in data["edges"] if e["kind"] == "feedforward"]
    data["name"] = name or f"{spec.name or 'spec'}_feedforward"
    return GraphSpec.from_dict(data)
