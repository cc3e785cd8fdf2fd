"""Cells by name, for graph specs and gin: ``convrnn_tf.cells.get("timedecay")``."""

from __future__ import annotations

_REGISTRY: dict[str, type] = {}


def register(name: str):
    """Class decorator: make a `ConvRNNCell` subclass available under ``name``."""

    def decorate(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"cell name {name!r} is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = cls
        cls.registered_name = name
        return cls

    return decorate


def names() -> list[str]:
    """The registered cell names, sorted."""
    return sorted(_REGISTRY)


def get(name: str):
    """The cell class registered under ``name``; a `ValueError` lists the valid names otherwise."""
    if isinstance(name, type):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown cell {name!r}; valid cell names are: {', '.join(names())}"
        ) from None
