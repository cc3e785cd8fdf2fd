"""Spike counts from recordings: time binning and pseudo-populations.

* :func:`bin_spikes`: 1-ms rasters ``[..., n_ms]`` (0/1 or counts; sample k covers [t0 + k, t0 + k + 1) ms)
  to counts in non-overlapping bins ``[start, start + bin_ms)``; ``window=(a, b)`` keeps the bins in
  [a, b) (ValueError names bins outside the raster); a trailing partial bin is dropped.
* :func:`bin_spike_times`: spike times (ms) of each trial to the same counts (``np.histogram`` on the
  edges, left-closed).
* :func:`pseudo_population`: neurons recorded on different trials/sessions combined into one population
  ``[presentation, neuroid, time_bin]`` by matching condition labels (e.g. stimulus ids): for every
  condition, ``n_pseudo`` pseudo-trials, each drawing (without replacement when possible) one trial of that
  condition per session; units of one session share the drawn trial (their noise correlations are kept),
  sessions are independent. ``average=True`` returns the trial-averaged response per condition instead.
"""

from __future__ import annotations

import numpy as np

from ._arrays import _fmt


def bin_edges(window, bin_ms=10.0):
    """Left edges of the bins ``[start, start + bin_ms)`` that fit in ``window = (start, stop)``."""
    start, stop = float(window[0]), float(window[1])
    n = int(np.floor((stop - start) / bin_ms + 1e-9))
    if n < 1:
        raise ValueError(f"window {window} holds no whole bin of {bin_ms} ms")
    return start + bin_ms * np.arange(n)


def bin_spikes(raster, bin_ms=10, t0=0.0, window=None, rate=False):
    """Return ``(counts [..., n_bins], bin_starts [n_bins])`` from a 1-ms raster (see module docstring).

    ``rate=True`` divides by the bin duration in seconds (spikes/s).
    """
    raster = np.asarray(raster)
    n_ms = raster.shape[-1]
    if int(bin_ms) != bin_ms or bin_ms < 1:
        raise ValueError(f"bin_ms must be a whole number of 1-ms samples; got {bin_ms}")
    bin_ms = int(bin_ms)
    window = (t0, t0 + n_ms) if window is None else window
    starts = bin_edges(window, bin_ms)
    first = starts - t0
    outside = starts[(first < 0) | (first + bin_ms > n_ms + 1e-9)]
    if outside.size:
        raise ValueError(
            f"time bins {_fmt(outside.tolist())} fall outside the raster, which covers "
            f"[{t0:g}, {t0 + n_ms:g}) ms"
        )
    if np.any(np.abs(first - np.round(first)) > 1e-9):
        raise ValueError(f"window start {window[0]} is not on the raster's 1-ms grid (t0={t0})")
    lo = int(round(first[0]))
    seg = raster[..., lo: lo + len(starts) * bin_ms].astype(float)
    counts = seg.reshape(seg.shape[:-1] + (len(starts), bin_ms)).sum(-1)
    return (counts / (bin_ms / 1000.0) if rate else counts), starts


def bin_spike_times(spike_times, window, bin_ms=10.0, rate=False):
    """``(counts [n_trials, n_bins], bin_starts)`` from a list of per-trial spike-time arrays (ms)."""
    starts = bin_edges(window, bin_ms)
    edges = np.append(starts, starts[-1] + bin_ms)
    counts = np.asarray([np.histogram(np.asarray(t, float), edges)[0] for t in spike_times], dtype=float)
    counts = counts.reshape(len(spike_times), len(starts))
    return (counts / (bin_ms / 1000.0) if rate else counts), starts


def pseudo_population(sessions, conditions=None, n_pseudo=None, average=False, seed=0):
    """Assemble a pseudo-population from ``sessions``: a list of ``(counts, labels)`` pairs.

    ``counts``: ``[trials, units, time_bin]`` (``[trials, time_bin]`` for a single unit); ``labels``:
    ``[trials]`` condition label of each trial. All sessions must share the time bins. ``conditions``:
    the labels to use (default: those recorded in every session; ValueError names requested conditions a
    session lacks). ``n_pseudo``: pseudo-trials per condition (default: the fewest trials any session has
    for any condition). Returns ``(responses [presentation, neuroid, time_bin], condition of each
    presentation, session index of each neuroid)``.
    """
    if not sessions:
        raise ValueError("pseudo_population needs at least one session")
    data = []
    for k, (counts, labels) in enumerate(sessions):
        counts, labels = np.asarray(counts, float), np.asarray(labels)
        counts = counts[:, None, :] if counts.ndim == 2 else counts
        if counts.ndim != 3 or len(labels) != counts.shape[0]:
            raise ValueError(
                f"session {k}: counts must be [trials, units, time_bin] with one label per trial; got "
                f"counts {counts.shape} and {len(labels)} labels"
            )
        data.append((counts, labels))
    n_t = {c.shape[2] for c, _ in data}
    if len(n_t) > 1:
        raise ValueError(f"sessions have different numbers of time bins: {sorted(n_t)}")
    if conditions is None:
        common = set(data[0][1].tolist())
        for _, labels in data[1:]:
            common &= set(labels.tolist())
        conditions = sorted(common)
        if not conditions:
            raise ValueError("no condition label is shared by all sessions")
    conditions = list(conditions)
    for k, (_, labels) in enumerate(data):
        have = set(labels.tolist())
        lack = [c for c in conditions if c not in have]
        if lack:
            raise ValueError(f"session {k} has no trials of condition(s) {lack[:10]}")
    fewest = min(int((labels == c).sum()) for _, labels in data for c in conditions)
    n_pseudo = (1 if average else fewest) if n_pseudo is None else int(n_pseudo)
    rng = np.random.default_rng(seed)
    blocks, cond_out = [], []
    for c in conditions:
        parts = []
        for counts, labels in data:
            idx = np.flatnonzero(labels == c)
            if average:
                parts.append(np.repeat(counts[idx].mean(0, keepdims=True), n_pseudo, axis=0))
            else:
                parts.append(counts[rng.choice(idx, n_pseudo, replace=n_pseudo > len(idx))])
        blocks.append(np.concatenate(parts, axis=1))
        cond_out += [c] * n_pseudo
    unit_session = np.concatenate([np.full(c.shape[1], k) for k, (c, _) in enumerate(data)])
    return np.concatenate(blocks, axis=0), np.asarray(cond_out), unit_session
