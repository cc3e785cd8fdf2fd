"""Small statistics shared by the analyses: clipped d', correlations over finite entries, crossings."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

#: d' is clipped to +-DPRIME_CLIP (Rajalingham et al. 2018, trial data; Brain-Score I1/I2).
DPRIME_CLIP = 5.0


def dprime(hit_rate, false_alarm_rate, clip=DPRIME_CLIP):
    """d' = clip(z(HR) - z(FAR), -clip, clip) with z = Phi^-1 (the standard normal quantile).

    Each z is first limited to +-clip, so degenerate cells (HR = FAR = 0 or 1) give 0 instead of NaN, and
    HR = 1 / FAR = 0 give a finite value that the outer clip then bounds. NaN rates (no trials) give NaN.
    """
    zh = np.clip(ndtri(np.asarray(hit_rate, dtype=float)), -clip, clip)
    zf = np.clip(ndtri(np.asarray(false_alarm_rate, dtype=float)), -clip, clip)
    return np.clip(zh - zf, -clip, clip)


def pearson(a, b) -> float:
    """Pearson r over the entries finite in both; NaN with < 3 such entries or zero variance."""
    a, b = np.ravel(np.asarray(a, float)), np.ravel(np.asarray(b, float))
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def spearman(a, b) -> float:
    """Spearman rho = Pearson r of the ranks (ties get average ranks), over entries finite in both."""
    a, b = np.ravel(np.asarray(a, float)), np.ravel(np.asarray(b, float))
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    return pearson(rankdata(a[ok]), rankdata(b[ok]))


def first_crossing(times, values, threshold, anchor="previous", min_consecutive=1):
    """First time ``values`` (over the last axis) reaches ``threshold``, linearly interpolated.

    Let i be the first bin with ``values[i] >= threshold`` (and, with ``min_consecutive`` = m, also the next
    m-1 bins). With i = 0 the crossing is ``times[0]``. Otherwise it is where the line through
    (times[j], values[j]) and (times[i], values[i]) reaches the threshold:
    ``t = t_j + (thr - v_j) / (v_i - v_j) * (t_i - t_j)``, with j = i-1 (``anchor='previous'``) or, as in
    Brain-Score's Kar2019 OST metric, j = the earlier bin with the highest value (``anchor='max_below'``).
    NaN where the threshold is never reached (or ``threshold`` is NaN). ``threshold`` broadcasts against
    ``values[..., 0]``. Returns an array of shape ``values.shape[:-1]``.
    """
    if anchor not in ("previous", "max_below"):
        raise ValueError(f"anchor must be 'previous' or 'max_below'; got {anchor!r}")
    times = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    if v.shape[-1] != len(times):
        raise ValueError(f"values have {v.shape[-1]} time bins but times has {len(times)}")
    thr = np.broadcast_to(np.asarray(threshold, dtype=float), v.shape[:-1])
    flat_v, flat_thr = v.reshape(-1, v.shape[-1]), thr.reshape(-1)
    out = np.full(flat_v.shape[0], np.nan)
    for k, (row, th) in enumerate(zip(flat_v, flat_thr)):
        if not np.isfinite(th):
            continue
        above = row >= th
        if min_consecutive > 1:
            run = np.ones_like(above)
            for s in range(min_consecutive):
                shifted = np.zeros_like(above)
                shifted[: len(above) - s] = above[s:]
                run &= shifted
            above = run
        hits = np.flatnonzero(above)
        if hits.size == 0:
            continue
        i = hits[0]
        if i == 0:
            out[k] = times[0]
            continue
        if anchor == "previous":
            j = i - 1
        else:
            below = np.where(row[:i] < th, row[:i], -np.inf)
            j = int(np.argmax(below))
        dv = row[i] - row[j]
        frac = (th - row[j]) / dv if dv > 0 else 1.0
        out[k] = times[j] + np.clip(frac, 0.0, 1.0) * (times[i] - times[j])
    return out.reshape(v.shape[:-1])


def percentile_ci(samples, ci=0.95):
    """(low, high) percentile interval of the finite bootstrap samples; NaNs when none is finite."""
    s = np.asarray(samples, float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(s, [50 * (1 - ci), 50 * (1 + ci)])
    return float(lo), float(hi)
