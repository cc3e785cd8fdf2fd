"""Helpers shared by the convolutional cells: config checks, TF-SAME convs, fused conv weights.

Stable API (other cells may use it), defined in `conv_checks`, `conv_ops` and `conv_cell_base`
and importable from here:

* Config checks, each raising one ``ValueError("<Cell>: <key> ...")``: `check_int`,
  `check_number`, `check_bool`, `filter_size_pair`, `spatial_shape`, `check_init_kwargs`;
  `check_option` for the cells' shared constructor options (`OPTION_CHECKS`).
* `kernel_initializer(name, kwargs, where)` / `bias_initializer(name, kwargs, where, default)`:
  the original's defaults when ``name`` is None (TF1 ``get_variable``'s Glorot uniform for kernels,
  ``constant(default)`` for biases), otherwise `convrnn_tf.cells.common.initializer`.
* `serialize_initializer(value)`: a config-safe form of an initializer argument.
* `check_filter_fits(filter_size, spatial, where, key)`: the build-time kernel-size check.
* `conv2d_same(x, kernel, bias=None)`: stride-1 TF ``SAME`` conv (even kernels pad bottom/right,
  as TF does) in ``x``'s dtype.
* `add_conv_weights(layer, ...)`: a ``weights`` kernel ``[kh, kw, C_in, C_out]`` and ``bias``
  ``[C_out]`` on ``layer``, as the original's ``_conv_linear`` creates them.
* `ConvLinear`: a layer owning such a pair (one fused conv over the concatenated inputs).
* `ConvCellBase`: the common part of the cells with the original's memory-dict keys ``shape``,
  ``filter_size`` and ``out_depth`` (option checks and config, float32 states, input checks,
  shapes); `cell_arguments` hands a cell constructor's arguments to it.
"""

from __future__ import annotations

from convrnn_tf.cells.conv_cell_base import ConvCellBase, cell_arguments
from convrnn_tf.cells.conv_checks import (
    OPTION_CHECKS,
    bias_initializer,
    check_bool,
    check_init_kwargs,
    check_int,
    check_number,
    check_option,
    filter_size_pair,
    kernel_initializer,
    serialize_initializer,
    spatial_shape,
)
from convrnn_tf.cells.conv_ops import ConvLinear, add_conv_weights, check_filter_fits, conv2d_same

__all__ = [
    "OPTION_CHECKS",
    "ConvCellBase",
    "ConvLinear",
    "add_conv_weights",
    "bias_initializer",
    "cell_arguments",
    "check_bool",
    "check_filter_fits",
    "check_init_kwargs",
    "check_int",
    "check_number",
    "check_option",
    "conv2d_same",
    "filter_size_pair",
    "kernel_initializer",
    "serialize_initializer",
    "spatial_shape",
]
