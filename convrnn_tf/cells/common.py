"""Name lookups shared by cells and graph ops: activations, initializers, weight decay."""

from __future__ import annotations

import keras

_ACTIVATIONS = ("elu", "relu", "sigmoid", "tanh", "softplus", "gelu", "selu", "swish", "leaky_relu")
_IDENTITY = (None, "identity", "linear")


def check_activation(name, where: str = "activation"):
    """Raise a `ValueError` naming ``where`` unless ``name`` is a known activation (or None)."""
    if name in _IDENTITY or name in _ACTIVATIONS:
        return name
    raise ValueError(
        f"{where}: unknown activation {name!r}; valid are: identity, {', '.join(_ACTIVATIONS)}"
    )


def activation(name, where: str = "activation"):
    """The activation function for a string name; ``None``/"identity" give the identity."""
    check_activation(name, where)
    if name in _IDENTITY:
        return keras.activations.linear
    return keras.activations.get(name)


def initializer(name, kwargs=None, where: str = "initializer"):
    """A Keras initializer from the original's names and kwargs.

    "xavier" is Glorot uniform; "variance_scaling" has the TF1 defaults (scale 1, fan_in,
    truncated normal); "random_normal" defaults to stddev 1 as in TF1; other names go to
    `keras.initializers.get`.
    """
    kwargs = dict(kwargs or {})
    if isinstance(name, keras.initializers.Initializer):
        return name
    try:
        if name in (None, "zeros"):
            return keras.initializers.Zeros()
        if name in ("xavier", "glorot_uniform"):
            return keras.initializers.GlorotUniform(**kwargs)
        if name == "variance_scaling":
            kwargs.setdefault("distribution", "truncated_normal")
            return keras.initializers.VarianceScaling(**kwargs)
        if name == "random_normal":
            kwargs.setdefault("stddev", 1.0)
            return keras.initializers.RandomNormal(**kwargs)
        if name == "constant":
            return keras.initializers.Constant(**kwargs)
        cls = keras.initializers.get(name)
        return cls.__class__(**kwargs) if kwargs else cls
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: bad initializer {name!r} with {kwargs!r}: {err}") from None


def weight_decay_regularizer(weight_decay, where: str = "weight_decay"):
    """The original's TF1 ``l2_regularizer(wd)``, i.e. ``wd * sum(w**2) / 2``; None for 0/None."""
    if weight_decay is None or weight_decay == 0:
        return None
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"{where}: must be a non-negative number, got {weight_decay!r}")
    return keras.regularizers.L2(float(weight_decay) / 2.0)
