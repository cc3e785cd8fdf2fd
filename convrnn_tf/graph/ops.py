"""The vocabulary of pre/post-memory ops: allowed kwargs, their types, and static shapes.

Shapes here are per example (no batch axis): ``(H, W, C)`` for spatial tensors, ``(C,)`` for
flat ones. The Keras layers that execute the ops live in `convrnn_tf.model.ops`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from convrnn_tf.cells.common import check_activation
from convrnn_tf.graph.errors import SpecError

NUMBER = (int, float)
_NONE = type(None)


@dataclass(frozen=True)
class Param:
    types: tuple
    default: Any = None
    required: bool = False
    choices: tuple | None = None


def _pair(value, key, where):
    """An int or a pair of ints -> a 2-tuple; the original's NHWC 4-lists are reduced too."""
    if isinstance(value, bool):
        raise SpecError(f"{key} must be an int or a pair of ints, got {value!r}", **where)
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 4 and value[0] == value[3] == 1:
        value = value[1:3]
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return tuple(value)
    raise SpecError(f"{key} must be an int or a pair of ints, got {value!r}", **where)


def _spatial(shape, op, where):
    if len(shape) != 3:
        raise SpecError(
            f"op {op!r} needs a spatial [H, W, C] input but gets a flat one of shape {list(shape)}",
            **where,
        )


def _window_out(size, k, s, padding):
    if padding == "SAME":
        return math.ceil(size / s)
    return (size - k) // s + 1


def _conv_shape(kw, shape, where):
    _spatial(shape, "conv", where)
    kh, kwd = _pair(kw["ksize"], "ksize", where)
    sh, sw = _pair(kw["strides"], "strides", where)
    if min(kh, kwd, sh, sw) < 1:
        raise SpecError(f"conv ksize/strides must be >= 1, got {kw['ksize']}/{kw['strides']}", **where)
    if kw["out_depth"] < 1:
        raise SpecError(f"conv out_depth must be >= 1, got {kw['out_depth']}", **where)
    padding = kw["padding"].upper()
    if padding == "VALID" and (kh > shape[0] or kwd > shape[1]):
        raise SpecError(f"VALID conv of size {kh}x{kwd} does not fit its {shape[0]}x{shape[1]} input", **where)
    return (_window_out(shape[0], kh, sh, padding), _window_out(shape[1], kwd, sw, padding), kw["out_depth"])


def _pool_shape(kw, shape, where):
    _spatial(shape, "pool", where)
    kh, kwd = _pair(kw["ksize"], "ksize", where)
    sh, sw = _pair(kw["strides"], "strides", where)
    padding = kw["padding"].upper()
    if padding == "VALID" and (kh > shape[0] or kwd > shape[1]):
        raise SpecError(f"VALID pool of size {kh}x{kwd} does not fit its {shape[0]}x{shape[1]} input", **where)
    return (_window_out(shape[0], kh, sh, padding), _window_out(shape[1], kwd, sw, padding), shape[2])


def _fc_shape(kw, shape, where):
    if kw["out_depth"] < 1:
        raise SpecError(f"fc out_depth must be >= 1, got {kw['out_depth']}", **where)
    return (kw["out_depth"],)


def _global_pool_shape(kw, shape, where):
    _spatial(shape, "global_pool", where)
    return (shape[2],)


def _same(kw, shape, where):
    return tuple(shape)


def _flatten(kw, shape, where):
    return (math.prod(shape),)


def _dropout_shape(kw, shape, where):
    if not 0.0 <= kw["rate"] < 1.0:
        raise SpecError(f"dropout rate must be in [0, 1), got {kw['rate']}", **where)
    return tuple(shape)


_CONV_PARAMS = {
    "out_depth": Param((int,), required=True),
    "activation": Param((str, _NONE)),
    "use_bias": Param((bool,), True),
    "bias": Param(NUMBER, 0.0),
    "kernel_init": Param((str,), "variance_scaling"),
    "kernel_init_kwargs": Param((dict,), {}),
    "weight_decay": Param(NUMBER + (_NONE,)),
}


@dataclass(frozen=True)
class OpType:
    params: dict[str, Param]
    shape_fn: Callable
    doc: str = ""
    extra: dict = field(default_factory=dict)


OPS: dict[str, OpType] = {
    "conv": OpType(
        {
            **_CONV_PARAMS,
            "ksize": Param((int, list, tuple), required=True),
            "strides": Param((int, list, tuple), 1),
            "padding": Param((str,), "SAME", choices=("SAME", "VALID", "same", "valid")),
            "return_input": Param((bool,), False),
            "input_name": Param((str, _NONE)),
        },
        _conv_shape,
        "2-D convolution (+ bias, activation); return_input keeps its input for residual_add",
    ),
    "fc": OpType(_CONV_PARAMS, _fc_shape, "fully connected layer over the flattened input"),
    "max_pool": OpType(
        {
            "ksize": Param((int, list, tuple), 2),
            "strides": Param((int, list, tuple), 2),
            "padding": Param((str,), "SAME", choices=("SAME", "VALID", "same", "valid")),
        },
        _pool_shape,
    ),
    "avg_pool": OpType(
        {
            "ksize": Param((int, list, tuple), 2),
            "strides": Param((int, list, tuple), 2),
            "padding": Param((str,), "SAME", choices=("SAME", "VALID", "same", "valid")),
        },
        _pool_shape,
    ),
    "global_pool": OpType({"kind": Param((str,), "avg", choices=("avg", "max"))}, _global_pool_shape),
    "flatten": OpType({}, _flatten),
    "dropout": OpType({"rate": Param(NUMBER, 0.0), "seed": Param((int, _NONE))}, _dropout_shape),
    "activation": OpType({"activation": Param((str, _NONE), required=True)}, _same),
    "identity": OpType({}, _same),
    "residual_add": OpType({}, _same, "adds the kept conv input, resized and 1x1-projected if needed"),
}


def op_names() -> list[str]:
    return sorted(OPS)


def normalize_op(entry: dict, *, node: str, key: str) -> tuple[str, dict]:
    """Check one op dict ``{"op": name, **kwargs}``; return ``(name, kwargs with defaults)``."""
    where = {"node": node, "key": key}
    if not isinstance(entry, dict):
        raise SpecError(f"an op must be a dict like {{'op': 'conv', ...}}, got {entry!r}", **where)
    entry = dict(entry)
    name = entry.pop("op", None)
    if name not in OPS:
        raise SpecError(f"unknown op {name!r}; valid ops are: {', '.join(op_names())}", **where)
    params = OPS[name].params
    for k in entry:
        if k not in params:
            raise SpecError(
                f"op {name!r} has no argument {k!r}; valid are: {', '.join(sorted(params)) or 'none'}",
                **where,
            )
    out = {}
    for k, p in params.items():
        if k not in entry:
            if p.required:
                raise SpecError(f"op {name!r} needs argument {k!r}", **where)
            out[k] = p.default
            continue
        v = entry[k]
        bad_bool = isinstance(v, bool) and bool not in p.types
        if bad_bool or not isinstance(v, p.types):
            names = "/".join("null" if t is _NONE else t.__name__ for t in p.types)
            raise SpecError(f"op {name!r} argument {k!r} must be {names}, got {v!r}", **where)
        if p.choices is not None and v not in p.choices:
            raise SpecError(f"op {name!r} argument {k!r} must be one of {list(p.choices)}, got {v!r}", **where)
        out[k] = v
    for k in ("ksize", "strides"):
        if k in out:
            out[k] = list(_pair(out[k], k, where))
    if "padding" in out:
        out["padding"] = out["padding"].upper()
    if "activation" in out:
        try:
            check_activation(out["activation"], "activation")
        except ValueError as err:
            raise SpecError(str(err), **where) from None
    return name, out


def output_shape(name: str, kwargs: dict, shape: tuple, *, node: str, key: str) -> tuple:
    return OPS[name].shape_fn(kwargs, tuple(shape), {"node": node, "key": key})
