"""The original lab's model zoo: the 20 models by name, and their JSON graph specs.

    from convrnn_tf import zoo
    zoo.names()                           # the 20 model names
    zoo.info("rgc_intermediate")          # cell, times, decoder, feedback, params, accuracy, ...
    model = zoo.build("rgc_intermediate_tmaxconf")   # a ConvRNN with the original's defaults
    print(zoo.markdown_table())

The specs are the 16 files of neuroailab/convrnns (``convrnns/models/*.json``) plus the median
RGC and lstm_shallow configs, copied unchanged into ``convrnn_tf/zoo/specs``. See ``docs/zoo.md``.
"""

from __future__ import annotations

import importlib.resources
import json
import pathlib

from convrnn_tf.graph import GraphSpec


def _specs_dir() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("convrnn_tf") / "zoo" / "specs"))


def spec_names() -> list[str]:
    """Names of the shipped original graph specs (e.g. ``"rgc_shallow"``)."""
    return sorted(p.stem for p in _specs_dir().glob("*.json") if not p.stem.endswith(".config"))


def spec_path(name: str) -> pathlib.Path:
    path = _specs_dir() / f"{name}.json"
    if name not in spec_names():
        raise ValueError(f"unknown zoo spec {name!r}; available: {', '.join(spec_names())}")
    return path


def load_spec(name: str, cell=None) -> GraphSpec:
    """The original spec ``name`` as a `GraphSpec` (its JSON as-is, no extra feedback edges)."""
    return GraphSpec.from_json(spec_path(name), cell=cell)


def load_config(name: str) -> dict:
    """A shipped model config: ``"median_rgcell"`` or ``"lstm_shallow"`` (``specs/<name>.config.json``)."""
    path = _specs_dir() / f"{name}.config.json"
    configs = sorted(p.name[: -len(".config.json")] for p in _specs_dir().glob("*.config.json"))
    if name not in configs:
        raise ValueError(f"unknown zoo config {name!r}; available: {', '.join(configs)}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# The model-level API (imported last: these modules use the loaders above).
from convrnn_tf.zoo.builder import build, build_deferred, count_params, default_decoder, model_spec  # noqa: E402
from convrnn_tf.zoo.catalog import ModelInfo, check_name, info, markdown_table, names  # noqa: E402
from convrnn_tf.zoo.checkpoint import (  # noqa: E402
    CheckpointError,
    CheckpointReport,
    load_original_checkpoint,
    original_variable_names,
    restore_checkpoint,
)

#: ``zoo.list()`` is ``zoo.names()``: the 20 model names.
list = names  # noqa: A001  (nothing in this module calls the builtin after this line)

__all__ = ["CheckpointError", "CheckpointReport", "ModelInfo", "build", "build_deferred", "check_name",
           "count_params", "default_decoder", "info", "list", "load_config", "load_original_checkpoint",
           "load_spec", "markdown_table", "model_spec", "names", "original_variable_names",
           "restore_checkpoint", "spec_names", "spec_path"]
