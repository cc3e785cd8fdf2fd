"""Bilinear resize with align_corners=True, the original harbor's spatial op.

``src = dst * (in - 1) / (out - 1)``; Keras's own resize uses half-pixel centres, so we apply
two small interpolation matrices instead (one per spatial axis).
"""

from __future__ import annotations

import numpy as np
from keras import ops


def interpolation_matrix(out_size: int, in_size: int) -> np.ndarray:
    """``[out, in]`` weights of 1-D linear interpolation with aligned corners."""
    m = np.zeros((out_size, in_size), dtype=np.float64)
    if out_size == 1 or in_size == 1:
        m[:, 0] = 1.0
        return m.astype(np.float32)
    src = np.arange(out_size) * (in_size - 1) / (out_size - 1)
    lo = np.clip(np.floor(src).astype(int), 0, in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    m[np.arange(out_size), lo] += 1.0 - frac
    m[np.arange(out_size), hi] += frac
    return m.astype(np.float32)


def resize_align_corners(x, size):
    """Resize ``[B, H, W, C]`` to ``size=(H', W')``; identity when the sizes already match."""
    h, w = x.shape[1], x.shape[2]
    out_h, out_w = size
    if (h, w) == (out_h, out_w):
        return x
    if h != out_h:
        mh = ops.cast(interpolation_matrix(out_h, h), x.dtype)
        x = ops.einsum("oh,bhwc->bowc", mh, x)
    if w != out_w:
        mw = ops.cast(interpolation_matrix(out_w, w), x.dtype)
        x = ops.einsum("ow,bhwc->bhoc", mw, x)
    return x
