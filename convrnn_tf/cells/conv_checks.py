"""Config checks of the convolutional cells: each raises one ``ValueError("<Cell>: <key> ...")``.

* `check_int`, `check_number`, `check_bool`, `filter_size_pair`, `spatial_shape`,
  `check_init_kwargs`: one value each.
* `kernel_initializer` / `bias_initializer` / `serialize_initializer`: the original's initializer
  keys (None gives its TF1 defaults) and their config-safe form.
* `check_option(value, where, key)`: the check of one of the cells' shared constructor options
  (`OPTION_CHECKS` lists them), used by `ConvCellBase`.
"""

from __future__ import annotations

import math

import keras

from convrnn_tf.cells import common

# --------------------------------------------------------------------------------------------
# Config checks


def _is_integral(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def check_int(value, where: str, key: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; integral floats (``3.0``) are accepted."""
    if not _is_integral(value) or int(value) < minimum:
        raise ValueError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(value, where: str, key: str) -> float:
    """``value`` as a finite float (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def check_bool(value, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def filter_size_pair(value, where: str, key: str = "filter_size") -> list:
    """The original's ``ksize``: an int (or integral float, as the lstm_shallow npz has ``2.0``) or
    a pair ``[kh, kw]`` of positive integers, returned as a tuple ``(kh, kw)``."""
    if value is None:
        raise ValueError(f"{where}: {key} is required (an integer or a pair [kh, kw])")
    if _is_integral(value):
        pair = [value, value]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        pair = list(value)
    else:
        raise ValueError(
            f"{where}: {key} must be a positive integer or a pair [kh, kw] of them, got {value!r}"
        )
    if not all(_is_integral(v) and int(v) >= 1 for v in pair):
        raise ValueError(
            f"{where}: {key} must be a positive integer or a pair [kh, kw] of them, got {value!r}"
        )
    return (int(pair[0]), int(pair[1]))


def spatial_shape(value, where: str, key: str = "shape"):
    """``None`` or ``[H, W]`` with positive integers (returned as a tuple)."""
    if value is None:
        return None
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_is_integral(v) and int(v) >= 1 for v in value)
    ):
        raise ValueError(
            f"{where}: {key} must be [height, width] of positive integers, got {value!r}"
        )
    return (int(value[0]), int(value[1]))


def check_init_kwargs(value, where: str, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {key} must be a dict or null, got {value!r}")
    return dict(value)


# --------------------------------------------------------------------------------------------
# Initializers


def _deserialize_initializer(name):
    if isinstance(name, dict):
        return keras.saving.deserialize_keras_object(name)
    return name


def kernel_initializer(name, kwargs=None, where: str = "kernel_initializer"):
    """``None`` gives Glorot uniform (TF1 ``get_variable``'s default, what the original uses when
    no kernel initializer is configured); otherwise `common.initializer`."""
    name = _deserialize_initializer(name)
    if name is None:
        return keras.initializers.GlorotUniform(**(kwargs or {}))
    return common.initializer(name, kwargs, where=where)


def bias_initializer(name, kwargs=None, where: str = "bias_initializer", default: float = 0.0):
    """``None`` gives ``constant(default)`` (the original's ``_conv_linear`` default is 0; the GRU
    gates use 1); otherwise `common.initializer`."""
    name = _deserialize_initializer(name)
    if name is None:
        return keras.initializers.Constant(default)
    return common.initializer(name, kwargs, where=where)


def serialize_initializer(value):
    """Strings and None stay as they are; initializer objects become serialized dicts."""
    if value is None or isinstance(value, (str, dict)):
        return value
    return keras.saving.serialize_keras_object(value)


# --------------------------------------------------------------------------------------------
# The cells' shared constructor options


def _decay(value, where: str, key: str) -> float:
    """A TF1 ``l2_regularizer`` scale: None -> 0.0, otherwise a finite number >= 0."""
    value = 0.0 if value is None else check_number(value, where, key)
    common.weight_decay_regularizer(value, where=f"{where}: {key}")  # refuses negatives
    return value


def _activation(value, where: str, key: str):
    return common.check_activation(value, where=f"{where}: {key}")


def _initializer(value, where: str, key: str):
    return serialize_initializer(value)  # resolved (and so checked) by the cell with its kwargs


#: ``option -> check(value, where, key)`` returning the stored value, for every constructor option
#: of the convolutional cells besides ``shape``, ``filter_size`` and ``out_depth``.
OPTION_CHECKS = {
    "weight_decay": _decay,
    "kernel_regularizer": _decay,
    "bias_regularizer": _decay,
    "forget_bias": check_number,
    "norm_gain": check_number,
    "norm_shift": check_number,
    "layer_norm": check_bool,
    "use_peepholes": check_bool,
    "activation": _activation,
    "kernel_initializer": _initializer,
    "bias_initializer": _initializer,
    "kernel_initializer_kwargs": check_init_kwargs,
    "bias_initializer_kwargs": check_init_kwargs,
}


def check_option(value, where: str, key: str):
    """``value`` checked (and normalised) as the cell option ``key`` (see `OPTION_CHECKS`)."""
    return OPTION_CHECKS[key](value, where, key)
