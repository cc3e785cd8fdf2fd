"""Independent NumPy re-implementations of the original's ops, for comparison with the Keras code.

Written from the equations of shared/docs/original-convrnns.md, not from our layers.
"""

import math

import numpy as np


def same_pads(size, k, s):
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2  # TF SAME: the extra pixel goes bottom/right


def conv2d(x, w, b=None, stride=1, padding="SAME"):
    """x [B,H,W,C], w [kh,kw,C,O]; TF semantics."""
    bsz, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    if padding == "SAME":
        (pt, pb), (pl, pr) = same_pads(h, kh, stride), same_pads(wd, kw, stride)
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    y = np.zeros((bsz, oh, ow, o), dtype=np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return y if b is None else y + b


def max_pool_same(x, k=2, s=2):
    bsz, h, w, c = x.shape
    oh, ow = math.ceil(h / s), math.ceil(w / s)
    (pt, _), (pl, _) = same_pads(h, k, s), same_pads(w, k, s)
    y = np.empty((bsz, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - pt, j * s - pl
            win = x[:, max(r0, 0):min(r0 + k, h), max(c0, 0):min(c0 + k, w), :]
            y[:, i, j, :] = win.max(axis=(1, 2))
    return y


def resize_bilinear_align_corners(x, out_h, out_w):
    """Per-pixel formula: source coordinate ``dst * (in - 1) / (out - 1)``."""
    bsz, h, w, c = x.shape
    y = np.empty((bsz, out_h, out_w, c))
    for i in range(out_h):
        sy = 0.0 if out_h == 1 else i * (h - 1) / (out_h - 1)
        y0 = int(math.floor(sy))
        y1 = min(y0 + 1, h - 1)
        fy = sy - y0
        for j in range(out_w):
            sx = 0.0 if out_w == 1 else j * (w - 1) / (out_w - 1)
            x0 = int(math.floor(sx))
            x1 = min(x0 + 1, w - 1)
            fx = sx - x0
            top = x[:, y0, x0] * (1 - fx) + x[:, y0, x1] * fx
            bot = x[:, y1, x0] * (1 - fx) + x[:, y1, x1] * fx
            y[:, i, j] = top * (1 - fy) + bot * fy
    return y


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
