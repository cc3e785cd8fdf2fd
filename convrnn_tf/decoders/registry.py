"""Temporal decoders by name: ``convrnn_tf.decoders.get("max_conf")`` or ``make("dthresh")``."""

from __future__ import annotations

import keras

_REGISTRY: dict[str, type] = {}

#: The original's other spellings (``decoder_type`` values and model-name suffixes).
ALIASES = {"simple": "last", "tmaxconf": "max_conf", "dthresh": "thresh"}


def register(name: str):
    """Class decorator: make a `TemporalDecoder` subclass available under ``name``."""

    def decorate(cls):
        if name in ALIASES:
            raise ValueError(f"decoder name {name!r} is an alias of {ALIASES[name]!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"decoder name {name!r} is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = cls
        cls.registered_name = name
        return cls

    return decorate


def names() -> list[str]:
    """The registered decoder names (without aliases), sorted."""
    return sorted(_REGISTRY)


def get(name):
    """The decoder class for ``name`` (or an alias); a `ValueError` lists the valid names."""
    if isinstance(name, type):
        return name
    try:
        return _REGISTRY[ALIASES.get(name, name)]
    except (KeyError, TypeError):
        aliases = ", ".join(f"{a} -> {n}" for a, n in sorted(ALIASES.items()))
        raise ValueError(
            f"unknown temporal decoder {name!r}; valid decoder names are: {', '.join(names())} "
            f"(aliases: {aliases})"
        ) from None


def make(decoder, **kwargs):
    """A decoder layer from a name, an instance (returned as is) or a dict.

    A dict is ``{"name": <decoder name>, **constructor kwargs}``; ``kwargs`` given here are
    merged over it (so ``make({"name": "thresh"}, name="decoder")`` names the Keras layer). A
    serialized Keras object (a dict with ``"class_name"``) is deserialized.
    """
    if isinstance(decoder, keras.layers.Layer):
        if kwargs:
            raise ValueError(
                f"make: got a decoder instance {decoder.name!r} and extra kwargs {sorted(kwargs)}; "
                "pass one or the other"
            )
        return decoder
    if isinstance(decoder, dict):
        if "class_name" in decoder:
            if kwargs:
                raise ValueError(
                    "make: extra kwargs cannot be merged into a serialized Keras object"
                )
            return keras.saving.deserialize_keras_object(decoder)
        config = dict(decoder)
        if "name" not in config:
            raise ValueError(
                f"make: a decoder dict needs a 'name' key (one of {', '.join(names())}), got "
                f"keys {sorted(config)}"
            )
        cls = get(config.pop("name"))
        config.update(kwargs)
        return cls(**config)
    if isinstance(decoder, (str, type)):
        return get(decoder)(**kwargs)
    raise ValueError(
        f"make: a decoder must be a name, a dict or a decoder layer, got {type(decoder).__name__} "
        f"{decoder!r}"
    )
