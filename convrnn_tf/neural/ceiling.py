"""Noise ceilings: split-half internal consistency with Spearman-Brown, ceiled-score conventions, and the
mapping-consistency correction of the Nayebi/Kubilius (2018) era.

Internal consistency (Brain-Score ``InternalConsistency``, per neuroid and per time bin): for each of
``n_splits`` split-halves of the repetitions (:func:`convrnn_tf.neural.splits.repetition_halves`), average
each half per stimulus, take Pearson r between the two half-averages across stimuli (stimuli lacking a
trial in either half are left out), and correct with Spearman-Brown for the doubled length,
``c = 2 r / (1 + r)``. Per neuroid: mean of c over splits. Summary (Brain-Score): median over neuroids
per split, then the mean over splits.

Ceiled scores, for a raw score r (median over neuroids of Pearson r, mean over splits) and a ceiling c:

=================  =============  =====================================================
name               formula        used by
=================  =============  =====================================================
``r/c``            r / c          Brain-Score up to v0.2 (2019)
``(r/c)^2``        (r / c)^2      Brain-Score 2019-07 to 2026-01
``r^2/c``          r^2 / c        Brain-Score from 2026-01 (c is already a reliability)
=================  =============  =====================================================

Mapping-consistency correction (Kubilius' streams code for Nayebi et al. 2018), per site, image split and
repetition split-half: ``EV = r_fit^2 / (internal_cons * mapping_cons)``, where internal_cons is the
Spearman-Brown corrected correlation of the two half-averages on the test images and mapping_cons the
Spearman-Brown corrected correlation of the test predictions of two regressions, each fit to one half on
the training images; EV is averaged over splits and halves (computed in :mod:`convrnn_tf.neural.fit`).
"""

from __future__ import annotations

import warnings

import numpy as np

from convrnn_tf.neural.assembly import Dense, NeuralDataError, to_dense, validate_assembly
from convrnn_tf.neural.splits import repetition_halves

CONVENTIONS = {
    "r/c": ("ceiled_r_over_c", lambda r, c: r / c),
    "(r/c)^2": ("ceiled_r_over_c_squared", lambda r, c: (r / c) ** 2),
    "r^2/c": ("ceiled_r2_over_c", lambda r, c: r ** 2 / c),
}


def spearman_brown(r, factor=2.0):
    """Reliability of a ``factor``-times longer measurement: factor r / (1 + (factor - 1) r)."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return factor * r / (1.0 + (factor - 1.0) * r)


def ceil_score(r, c, convention="r^2/c"):
    """The ceiled score under one of :data:`CONVENTIONS`."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown ceiling convention {convention!r}; choose one of {list(CONVENTIONS)}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return CONVENTIONS[convention][1](np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64))


def masked_pearson(x, y, axis=0):
    """Pearson r along ``axis`` using only positions where both x and y are finite (NaN if < 3 pairs
    or a constant side)."""
    mask = np.isfinite(x) & np.isfinite(y)
    n = mask.sum(axis=axis, keepdims=True)
    xs, ys = np.where(mask, x, 0.0), np.where(mask, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = xs.sum(axis=axis, keepdims=True) / n
        ym = ys.sum(axis=axis, keepdims=True) / n
        dx, dy = np.where(mask, xs - xm, 0.0), np.where(mask, ys - ym, 0.0)
        num = (dx * dy).sum(axis=axis)
        den = np.sqrt((dx * dx).sum(axis=axis) * (dy * dy).sum(axis=axis))
        r = num / den
    return np.where((np.squeeze(n, axis=axis) >= 3) & (den > 0), r, np.nan)


def half_means(dense, pair):
    """Half-averages (2, n_stimuli, n_neuroids, n_bins) for one split's masks ``pair`` (2, n_stimuli,
    n_reps) from ``repetition_halves``; NaN where a stimulus has no trial in a half."""
    finite = ~np.isnan(dense.data)
    values = np.where(finite, dense.data, 0.0)
    out = np.empty((2,) + dense.data.shape[:1] + dense.data.shape[2:])
    for h in range(2):
        m = pair[h][:, :, None, None] & finite
        cnt = m.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[h] = np.where(cnt > 0, (values * m).sum(axis=1) / cnt, np.nan)
    return out


def split_half_consistency(data, n_splits=10, random_state=0, per_stimulus=False, source="<in-memory>"):
    """Split-half internal consistency per neuroid and time bin (see the module docstring).

    ``data``: an assembly with repetitions or a :class:`Dense`. Returns a dict of arrays:
    ``r_half`` and ``corrected`` (n_splits, n_neuroids, n_bins), ``per_neuroid`` (n_neuroids, n_bins)
    = mean over splits of ``corrected``, ``per_split`` (n_splits, n_bins) = median over neuroids,
    ``ceiling`` (n_bins) = mean of ``per_split`` over splits, and the half ``masks``.
    """
    dense = data if isinstance(data, Dense) else to_dense(
        validate_assembly(data, source=source, allow_nan=True, need_repetitions=True), source=source,
        allow_nan=True)
    counts = dense.valid.sum(axis=1)
    if counts.min() < 2:
        raise NeuralDataError(f"{source}: a noise ceiling needs >= 2 repetitions per stimulus (coordinate "
                              f"'repetition'); {int((counts < 2).sum())} stimuli have fewer")
    masks = repetition_halves(dense.valid, n_splits, random_state, per_stimulus)
    r_half = np.empty((n_splits,) + dense.data.shape[2:])
    for s in range(n_splits):
        halves = half_means(dense, masks[s])
        r_half[s] = masked_pearson(halves[0], halves[1], axis=0)
    corrected = spearman_brown(r_half)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_split = np.nanmedian(corrected, axis=1)
        per_neuroid = np.nanmean(corrected, axis=0)
    return {"r_half": r_half, "corrected": corrected, "per_neuroid": per_neuroid,
            "per_split": per_split, "ceiling": per_split.mean(axis=0), "masks": masks}
