"""Decoding latency: the first time population accuracy (or d') exceeds a threshold, with a bootstrap CI.

Thresholds (``chance`` = 1/n_classes for accuracy, 0 for d')::

    criterion='sem':           thr = chance + k * SEM
    criterion='peak_fraction': thr = chance + fraction * (max_t curve(t) - chance)

SEM (``sem_source``, default ``'auto'``):

* ``'shuffled'`` - the standard error of the metric under the null, estimated as the standard deviation
  over time bins of the shuffled-label control's curve (each bin is one null realisation of the
  population metric; ``'auto'`` when the result has a control);
* ``'binomial'`` - the SEM of accuracy under the null, sqrt(chance (1 - chance) / n_presentations)
  (``'auto'`` for accuracy without a control);
* ``'splits'`` - the per-bin SEM of the metric over splits (``'auto'`` for d' without a control). With few
  splits this estimate is itself noisy, so isolated false crossings are likelier.

Whatever the criterion, the latency is NaN unless the curve exceeds chance + k * SEM for
``min_consecutive`` consecutive bins somewhere (no significant decoding, e.g. shuffled labels). The
latency is where ``curve(t) - thr(t)`` first reaches 0 and stays there for ``min_consecutive`` bins
(default 2, guarding against one noisy bin), linearly interpolated from the previous bin
(:func:`first_crossing`). The CI resamples presentations with
replacement within each class (``n_boot`` times), recomputing the curve (and the peak, for
``peak_fraction``; the SEM is kept); it is the percentile interval over the finite bootstrap latencies.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._stats import first_crossing, percentile_ci
from .decoding import DecodingResult, _check_metric, population_dprime


@dataclasses.dataclass
class Latency:
    latency: float  # NaN: never (significantly) above threshold
    ci: tuple  # (low, high) bootstrap percentile interval
    threshold: np.ndarray  # [T] threshold per bin
    curve: np.ndarray  # [T] the metric over time
    times: np.ndarray  # [T]
    boot: np.ndarray  # [n_boot] bootstrap latencies (NaN where not reached)
    metric: str
    criterion: str

    @property
    def boot_reached(self) -> float:
        """Fraction of bootstrap samples in which the threshold was reached."""
        return float(np.mean(np.isfinite(self.boot))) if self.boot.size else float("nan")


def _null_sem(result: DecodingResult, metric: str, sem_source: str) -> np.ndarray:
    if sem_source == "auto":
        if result.shuffled is not None:
            sem_source = "shuffled"
        else:
            sem_source = "binomial" if metric == "accuracy" else "splits"
    if sem_source == "shuffled":
        if result.shuffled is None:
            raise ValueError("sem_source='shuffled' needs a result decoded with shuffle_control=True")
        null = result.shuffled.curve(metric)
        if len(null) < 3:
            raise ValueError("sem_source='shuffled' needs at least 3 time bins; use 'binomial' or 'splits'")
        return np.full(len(result.times), np.nanstd(null, ddof=1))
    if sem_source == "binomial":
        if metric != "accuracy":
            raise ValueError("sem_source='binomial' applies to metric='accuracy' only")
        c = result.chance
        return np.full(len(result.times), np.sqrt(c * (1 - c) / len(result.labels)))
    if sem_source == "splits":
        return np.nan_to_num(result.sem(metric))
    raise ValueError(f"sem_source must be 'auto', 'shuffled', 'binomial' or 'splits'; got {sem_source!r}")


def _curve(result: DecodingResult, metric: str, idx=None) -> np.ndarray:
    labels = result.labels if idx is None else result.labels[idx]
    pred = result.predicted if idx is None else result.predicted[:, idx]
    if metric == "accuracy":
        return (pred == labels[None, :, None]).mean(axis=(0, 1))
    return np.nanmean([population_dprime(p, labels, len(result.classes)) for p in pred], axis=0)


def _latency(times, curve, chance, sig, criterion, fraction, min_consecutive):
    thr = sig if criterion == "sem" else np.full_like(curve, chance + fraction * (np.nanmax(curve) - chance))
    if not np.isfinite(first_crossing(times, curve - sig, 0.0, "previous", min_consecutive)):
        return float("nan"), thr
    return float(first_crossing(times, curve - thr, 0.0, "previous", min_consecutive)), thr


def _class_bootstrap(labels, rng):
    """Presentation indices resampled with replacement within each class."""
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), (labels == c).sum()) for c in np.unique(labels)]
    )


def decoding_latency(
    result: DecodingResult, metric="accuracy", criterion="sem", k=3.0, fraction=0.5, sem_source="auto",
    min_consecutive=2, n_boot=1000, ci=0.95, seed=0,
) -> Latency:
    """Latency of ``result`` (see the module docstring). ``result.subset(mask)`` gives a group's latency."""
    _check_metric(metric)
    if criterion not in ("sem", "peak_fraction"):
        raise ValueError(f"criterion must be 'sem' or 'peak_fraction'; got {criterion!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
    chance = result.chance if metric == "accuracy" else 0.0
    sig = chance + k * _null_sem(result, metric, sem_source)
    curve = _curve(result, metric)
    lat, thr = _latency(result.times, curve, chance, sig, criterion, fraction, min_consecutive)
    rng = np.random.default_rng(seed)
    boot = np.full(n_boot, np.nan)
    if np.isfinite(lat):
        for b in range(n_boot):
            c = _curve(result, metric, _class_bootstrap(result.labels, rng))
            boot[b] = _latency(result.times, c, chance, sig, criterion, fraction, min_consecutive)[0]
    return Latency(latency=lat, ci=percentile_ci(boot, ci), threshold=thr, curve=curve, times=result.times,
                   boot=boot, metric=metric, criterion=criterion)


@dataclasses.dataclass
class LatencyDifference:
    a: Latency
    b: Latency
    difference: float  # b.latency - a.latency
    ci: tuple  # percentile interval of the bootstrap differences


def latency_difference(result: DecodingResult, mask_a, mask_b, ci=0.95, **kwargs) -> LatencyDifference:
    """Latency of the ``mask_b`` presentations minus that of ``mask_a`` (e.g. challenge - control).

    Each group is ``result.subset(mask)`` (its own shuffled control); the CI is the percentile interval of
    the differences of the two groups' independent bootstrap samples. ``kwargs`` go to
    :func:`decoding_latency`.
    """
    seed = kwargs.pop("seed", 0)
    a = decoding_latency(result.subset(mask_a), ci=ci, seed=seed, **kwargs)
    b = decoding_latency(result.subset(mask_b), ci=ci, seed=seed + 1, **kwargs)
    return LatencyDifference(a=a, b=b, difference=b.latency - a.latency,
                             ci=percentile_ci(b.boot - a.boot, ci))
