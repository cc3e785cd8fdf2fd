"""Make everything a layer owns visible to `tf.train.Checkpoint`.

Keras 3 tracks sub-layers in list attributes, and variables that are not attributes (e.g. kept
in a dict), for its own saving (``.keras``); but on the TensorFlow backend it reports neither as
checkpoint dependencies, so ``tf.train.Checkpoint(model=m)`` would silently skip them. Our layers
mix this in so that training checkpoints hold every weight.
"""

from __future__ import annotations

import tensorflow as tf


class ListCheckpointDependencies:
    """Adds list elements as children ``<attr>_<i>`` and own variables as ``_var_<i>``."""

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        if save_type != "checkpoint":
            return children
        for attr in getattr(self, "_tracked", ()):
            value = getattr(self, attr, None)
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, tf.__internal__.tracking.Trackable):
                        children.setdefault(f"{attr}_{i}", item)
        # Variables this layer created itself, in creation order (stable across builds).
        own = list(getattr(self, "_trainable_variables", [])) + list(getattr(self, "_non_trainable_variables", []))
        for i, var in enumerate(own):
            children.setdefault(f"_var_{i}", var)
        return children
