"""Temporal decoders by name: ``convrnn_tf.decoders.get("max_conf")`` or ``make("dthresh")``."""

from __future__ import annotations

import keras

from convrnn_tf.registry import Registry

#: The original's other spellings (``decoder_type`` values and model-name suffixes).
ALIASES = {"simple": "last", "tmaxconf": "max_conf", "dthresh": "thresh"}

DECODERS = Registry("decoder", ALIASES)
register = DECODERS.register
names = DECODERS.names
get = DECODERS.get


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
