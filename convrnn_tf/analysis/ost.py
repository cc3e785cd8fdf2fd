"""Object solution times (OST; Kar et al. 2019) and the control-vs-challenge comparison.

* Per-image I1 d'(t): the I1 of :mod:`.behavior` computed in every time bin from the held-out decoder
  probabilities of all presentations of one repeat (FAR pooled over all images; d' clipped at +-5).
* OST_i = the first time I1_i(t) reaches the target: the image's behavioural d' when ``target`` is given
  (NaN target -> NaN OST), else the fixed ``criterion``. Linearly interpolated between the bin just before
  and the first bin reaching it (``anchor='previous'``, default); ``anchor='max_below'`` interpolates from
  the earlier bin with the highest sub-target d' instead (Brain-Score's Kar2019 rule, which pulls OSTs
  early when d' is noisy before the rise); the first bin itself when it is the first bin of the window;
  NaN when never reached.
* Model-vs-neural agreement: Spearman rho of the two OSTs over the images solved by both (finite in both),
  one rho per split (the held-out images of each fold, as Brain-Score), averaged; Kar 2019 conventions
  (10-ms bins 70-250 ms, 10 splits) are the defaults of :func:`ost_from_decoding` and of the decoder.
* Groups (challenge vs control, or any image-level flag): median OST of each group over solved images
  and the difference (flagged - unflagged) with a bootstrap CI (images resampled within each group).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import _arrays
from ._stats import DPRIME_CLIP, first_crossing, percentile_ci, spearman
from .behavior import from_probabilities
from .decoding import DecodingResult

#: d' criterion used when no behavioural per-image target is given (a design choice, ~84% 2AFC correct).
DEFAULT_CRITERION = 2.0


def image_dprime_over_time(result: DecodingResult, clip=DPRIME_CLIP) -> np.ndarray:
    """[R, S, T] per-image I1 d' over time from the held-out class probabilities of ``result``.

    Repeated presentations of one stimulus (``stimulus_ids``) are averaged first; images are in the
    order of ``result.stimuli()`` (the presentation order when each stimulus is shown once).
    """
    _, first, index = result.stimuli()
    p = result.probabilities.astype(float)  # [R, P, T, C]
    if len(first) < len(index):
        summed = np.zeros((p.shape[0], len(first)) + p.shape[2:])
        np.add.at(summed, (slice(None), index), p)
        p = summed / np.bincount(index)[None, :, None, None]
    d = from_probabilities(np.moveaxis(p, 2, 1), result.labels[first]).i1(clip=clip)  # [R, T, S]
    return np.moveaxis(d, 1, 2)


def object_solution_times(dprime, times, target=None, criterion=DEFAULT_CRITERION, anchor="previous",
                          min_consecutive=1):
    """[..., P] OST of each image from ``dprime [..., P, T]`` (see the module docstring).

    ``target``: per-image behavioural d' ``[P]`` (NaN allowed), or None for the fixed ``criterion``.
    ``min_consecutive`` > 1 requires the target to hold for that many bins (1: Kar 2019's first crossing).
    """
    d = np.asarray(dprime, dtype=float)
    if target is None:
        thr = np.full(d.shape[-2], float(criterion))
    else:
        thr = np.asarray(target, dtype=float)
        if thr.shape != (d.shape[-2],):
            raise ValueError(f"target must have one d' per image ({d.shape[-2]}); got shape {thr.shape}")
    return first_crossing(times, d, thr, anchor=anchor, min_consecutive=min_consecutive)


def ost_from_decoding(result: DecodingResult, target=None, criterion=DEFAULT_CRITERION,
                      select=_arrays.KAR2019_TIME_BINS, anchor="previous", min_consecutive=1,
                      clip=DPRIME_CLIP) -> np.ndarray:
    """[R, S] OSTs per image (see :func:`image_dprime_over_time`) over the bins ``select``: default Kar
    2019's 70-250 ms bin starts (ValueError names missing bins); ``None`` keeps all bins (model steps)."""
    d = image_dprime_over_time(result, clip)
    times = result.times
    if select is not None:
        idx = _arrays.select_time_bins(times, select)
        d, times = d[..., idx], times[idx]
    return object_solution_times(d, times, target, criterion, anchor, min_consecutive)


@dataclasses.dataclass
class OSTCorrelation:
    rho: np.ndarray  # [n_splits] Spearman rho per split
    n_images: np.ndarray  # [n_splits] images solved by both in each split

    @property
    def mean(self) -> float:
        f = np.isfinite(self.rho)
        return float(self.rho[f].mean()) if f.any() else float("nan")

    @property
    def sem(self) -> float:
        f = self.rho[np.isfinite(self.rho)]
        return float(f.std(ddof=1) / np.sqrt(f.size)) if f.size > 1 else float("nan")


def ost_correlation(ost_a, ost_b, folds=None) -> OSTCorrelation:
    """Spearman rho of two OST sets over images solved by both, per split.

    ``ost_a``/``ost_b``: ``[P]`` or ``[R, P]`` (broadcast together). ``folds`` (``[P]`` or ``[R, P]``, e.g.
    ``result.fold``, or ``result.fold[:, result.stimuli()[1]]`` with repeated presentations): one rho per
    (repeat, fold) over that fold's images; without it one rho per repeat over all images.
    """
    a, b = np.atleast_2d(np.asarray(ost_a, float)), np.atleast_2d(np.asarray(ost_b, float))
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"OSTs cover {a.shape[-1]} and {b.shape[-1]} images; they must match")
    a, b = np.broadcast_arrays(a, b)
    f = np.zeros(a.shape, dtype=int) if folds is None else np.broadcast_to(np.atleast_2d(folds), a.shape)
    rho, n = [], []
    for r in range(a.shape[0]):
        for k in np.unique(f[r]):
            m = f[r] == k
            both = m & np.isfinite(a[r]) & np.isfinite(b[r])
            rho.append(spearman(a[r, both], b[r, both]))
            n.append(int(both.sum()))
    return OSTCorrelation(rho=np.asarray(rho), n_images=np.asarray(n))


@dataclasses.dataclass
class GroupComparison:
    names: tuple  # (unflagged, flagged), e.g. ("control", "challenge")
    medians: tuple  # median OST of each group (solved images)
    n_solved: tuple  # solved images per group
    n_images: tuple  # images per group
    difference: float  # median(flagged) - median(unflagged)
    ci: tuple  # bootstrap percentile CI of the difference
    boot: np.ndarray
    groups: tuple  # (OSTs of unflagged solved images, OSTs of flagged solved images)


def compare_groups(ost, flag, table=None, positive=True, names=("control", "challenge"), n_boot=2000,
                   ci=0.95, seed=0) -> GroupComparison:
    """Median OST per group and the flagged-minus-unflagged difference with a bootstrap CI.

    ``ost``: ``[P]``, or ``[R, P]`` averaged over repeats (NaN-mean over the repeats that solved the image).
    ``flag``: a boolean array ``[P]`` (True = challenge), or the name of a column of ``table`` whose
    entries equal to ``positive`` are flagged (ValueError names an absent column).
    """
    o = np.asarray(ost, dtype=float)
    if o.ndim == 2:
        with np.errstate(invalid="ignore"):
            cnt = np.isfinite(o).sum(0)
            o = np.where(cnt > 0, np.nansum(o, 0) / np.maximum(cnt, 1), np.nan)
    flag = _arrays.flag_of(flag, table, len(o), positive)
    groups = tuple(o[m & np.isfinite(o)] for m in (~flag, flag))
    for name, g, m in zip(names, groups, (~flag, flag)):
        if not m.any():
            raise ValueError(f"group {name!r} has no images (flag has {int(flag.sum())} of {len(flag)} set)")
        if g.size == 0:
            raise ValueError(f"no image of group {name!r} reached its target, so it has no median OST")
    med = tuple(float(np.median(g)) for g in groups)
    rng = np.random.default_rng(seed)
    boot = np.asarray([
        np.median(rng.choice(groups[1], groups[1].size)) - np.median(rng.choice(groups[0], groups[0].size))
        for _ in range(n_boot)
    ])
    return GroupComparison(
        names=tuple(names), medians=med, n_solved=tuple(g.size for g in groups),
        n_images=(int((~flag).sum()), int(flag.sum())), difference=med[1] - med[0],
        ci=percentile_ci(boot, ci), boot=boot, groups=groups,
    )
