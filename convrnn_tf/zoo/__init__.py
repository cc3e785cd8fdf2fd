"""The original lab's model zoo: its JSON graph specs ship with the package.

The specs are the 16 files of neuroailab/convrnns (``convrnns/models/*.json``) plus the median
RGC and lstm_shallow configs, copied unchanged into ``convrnn_tf/zoo/specs``.
"""

from __future__ import annotations

import importlib.resources
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
