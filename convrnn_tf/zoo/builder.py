"""Build the original models by name: the JSON spec plus what the original ``model_func`` adds.

``model_func`` (original doc section 2.2) takes the JSON graph and, before unrolling:

* puts the model's cell into the recurrent layers (done when the JSON is read, from its name);
* 11-node rgc: merges the median RGC cell params and its four feedback overrides over every cell
  layer's memory (``median_rgcell.config.json``), and adds the five long-range feedback edges;
* lstm_shallow: merges the per-layer ``cell_params`` of ``lstm_shallow.config.json`` (the
  original's ``lstm_shallow.npz``) over the memory of conv3, conv4 and conv5;
* presents the image as the ``default`` preset (t22/t30 models: a constant image), and decodes
  with the variant's decoder over ``[num_nodes, times)``.
"""

from __future__ import annotations

import copy
import inspect
import math

from convrnn_tf import decoders as decoders_lib
from convrnn_tf.graph import GraphSpec
from convrnn_tf.zoo.catalog import check_name, info


def _merge_memory(data, layer_params, where):
    """Write each layer's ``cell_params`` over its node's memory kwargs (in the native dict)."""
    nodes = {n["name"]: n for n in data["nodes"]}
    for layer, params in layer_params.items():
        if layer not in nodes:
            raise ValueError(f"{where}: layer {layer!r} is not a node of the spec; nodes: {', '.join(nodes)}")
        cell_params = (params or {}).get("cell_params")
        if cell_params:
            memory = nodes[layer]["memory"]
            memory.update(copy.deepcopy(cell_params))


def model_spec(name) -> GraphSpec:
    """The complete graph of zoo model ``name``: merged cell params and long-range feedback edges."""
    from convrnn_tf.zoo import load_config, load_spec

    meta = info(name)
    spec = load_spec(meta.spec)
    data = spec.to_json()
    data["name"] = meta.name
    data["metadata"] = {**data.get("metadata", {}), "zoo_model": meta.name, "cell": meta.cell}
    if meta.cell == "lstm" and meta.depth == "shallow":
        cfg = load_config("lstm_shallow")
        _merge_memory(data, cfg["model_params"]["layer_params"], "lstm_shallow.config.json")
    if meta.cell == "rgc" and meta.depth == "intermediate":
        cfg = load_config("median_rgcell")
        params = {**cfg["cell_params"], **cfg["overrides_for_rgc_intermediate"]}
        _merge_memory(data, {layer: {"cell_params": params} for layer in meta.recurrent_layers},
                      "median_rgcell.config.json")
    spec = GraphSpec.from_dict(data)
    if meta.feedback_edges:
        spec = spec.with_edges(meta.feedback_edges, kind="feedback")
    return spec


def _convrnn_args():
    from convrnn_tf.model.convrnn import ConvRNN

    params = inspect.signature(ConvRNN.__init__).parameters
    return tuple(p for p in params if p not in ("self", "spec", "kwargs")) + ("name",)


def default_decoder(name):
    """A fresh decoder layer of zoo model ``name`` (``"last"`` for the base models)."""
    meta = info(name)
    if meta.decoder == "last":
        return "last"
    return decoders_lib.make(meta.decoder, trainable=meta.decoder_trainable, name="decoder")


def build(name, /, **overrides):
    """The zoo model ``name`` as an (unbuilt) `ConvRNN`, with the original's defaults.

    ``overrides`` go to `ConvRNN`: ``times``, ``presentation``, ``image_off``, ``blank``,
    ``decoder``, ``decoder_start``, ``decoder_end``, ``prune`` (and the Keras ``name``, by default
    the model name). ``presentation="default"`` (the default) is the original's preset for this
    model: a movie with the image off at 12 over 16/17 steps, or for t22/t30 models a constant
    image over 22/30 steps (with ``image_off`` given, a movie over those steps).
    """
    from convrnn_tf.model.convrnn import ConvRNN

    meta = info(check_name(name))
    allowed = _convrnn_args()
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"zoo.build({meta.name!r}): unknown override(s) {unknown}; valid: {', '.join(allowed)}")
    kwargs = dict(overrides)
    kwargs.setdefault("name", meta.name)
    kwargs.setdefault("presentation", "default")
    if "decoder" not in kwargs:
        kwargs["decoder"] = default_decoder(meta.name)
    if meta.presentation == "constant" and isinstance(kwargs["presentation"], str) \
            and kwargs["presentation"] == "default":
        # The original's default for "t22"/"t30" models: the image at every one of 22/30 steps.
        if kwargs.get("image_off") is None:
            kwargs["presentation"] = "constant"
            kwargs.pop("image_off", None)
        else:
            kwargs["presentation"] = "movie"
        if kwargs.get("times") is None:
            kwargs["times"] = meta.times
    try:
        return ConvRNN(model_spec(meta.name), **kwargs)
    except ValueError as err:
        raise ValueError(f"zoo.build({meta.name!r}): {err}") from None


def build_deferred(model):
    """Create ``model``'s variables with their shapes but without initial values; returns it.

    Shapes and parameter counts are then exact, and even the 85M-parameter models take about a
    second; the model cannot run (its variables hold no values). Use ``model.build()`` to run it.
    """
    import keras

    with keras.StatelessScope(initialize_variables=False):
        model.build()
    _forget_pending(model.weights)
    return model


def _forget_pending(variables):
    # Keras keeps deferred variables in a global list and initialises all of them when the next
    # stateless scope closes; drop ours so nobody pays for (or gets) values they never asked for.
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover - a Keras without that module
        return
    pending = global_state.get_global_attribute("uninitialized_variables")
    if pending:
        ours = {id(v) for v in variables}
        pending[:] = [v for v in pending if id(v) not in ours]


def count_params(model, *, decoder=False, memory_decay=False) -> int:
    """Parameters of a `ConvRNN` (or zoo name) counted as the doc's section 5.5 does.

    By default leaves out the ``memory_decay`` scalars and the decoder's scalars. A zoo name is
    built with `build_deferred` (shapes only); an unbuilt model is built normally.
    """
    if isinstance(model, str):
        model = build_deferred(build(model))
    elif not model.built:
        model.build()
    skip = set()
    if not decoder:
        skip |= {id(v) for v in model.decoder.weights}
    total = 0
    for v in model.weights:
        if id(v) in skip or (not memory_decay and v.path.split("/")[-1] == "memory_decay"):
            continue
        total += math.prod(v.shape)
    return total
