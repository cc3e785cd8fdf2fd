"""Model features: time-step to time-bin mapping, and streamed Gram matrices (optionally PCA-reduced).

Features are an array-like indexed ``[stimulus, feature...]`` (static; feedforward models) or
``[stimulus, time_step, feature...]`` (temporal; convRNN unrolls), e.g. a NumPy array, ``np.memmap`` or
an ``h5py`` dataset: only column chunks ``X[:, step, a:b]`` are read, so they may not fit in memory.
Trailing feature axes are flattened. An ``xarray.DataArray`` with a ``stimulus_id`` (or ``image_id``)
coordinate on its first dim, and optionally a ``time_step`` dim, carries its own ids.

A *recipe* is the tuple of time steps whose features are averaged for one neural time bin; every bin
with the same recipe shares one Gram matrix ``K = Xc Xc^T`` over the assembly's stimuli (Xc = features
centred over those stimuli), which is all the kernel regressions need.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from convrnn_tf.neural.assembly import NeuralDataError


@dataclasses.dataclass(frozen=True)
class TimeMapping:
    """Which model time steps feed each neural time bin.

    ``kind="one_to_one"`` (convRNNs): step t stands for the interval
    ``[offset_ms + t * step_ms, offset_ms + (t + 1) * step_ms)``; a bin [start, end) averages the steps
    whose intervals lie inside it (a 10 ms bin gets exactly one step; a 70-170 ms window gets ten), or,
    if none does, the step containing the bin's midpoint. With the defaults (10 ms, offset 0) and a
    26-step unroll, the bins 70-80 ... 250-260 ms get steps 7 ... 25 (Nayebi et al. 2022).
    ``kind="same"`` (feedforward models, or one fixed step): every bin uses ``step`` (features without a
    time axis: the only one). ``kind="explicit"``: ``steps[i]`` (an int or a tuple) for bin i.
    """

    kind: str = "one_to_one"
    step_ms: float = 10.0
    offset_ms: float = 0.0
    step: int = -1
    steps: tuple = ()

    def recipes(self, starts, ends, n_steps):
        """One tuple of step indices per bin; errors name the bin when a step is out of range."""
        starts, ends = np.asarray(starts, float), np.asarray(ends, float)
        if n_steps is None:
            return [(0,)] * len(starts)
        out = []
        for i, (s, e) in enumerate(zip(starts, ends)):
            if self.kind == "same":
                steps = (self.step % n_steps,)
            elif self.kind == "explicit":
                if len(self.steps) != len(starts):
                    raise NeuralDataError(f"TimeMapping: {len(self.steps)} explicit steps for {len(starts)} "
                                          "time bins (coordinate 'time_bin_start')")
                steps = tuple(np.atleast_1d(self.steps[i]).astype(int).tolist())
            elif self.kind == "one_to_one":
                t0 = self.offset_ms + self.step_ms * np.arange(n_steps)
                inside = np.flatnonzero((t0 >= s - 1e-9) & (t0 + self.step_ms <= e + 1e-9))
                if len(inside):
                    steps = tuple(inside.tolist())
                else:
                    steps = (int(np.floor(((s + e) / 2 - self.offset_ms) / self.step_ms)),)
            else:
                raise ValueError(f"unknown TimeMapping kind {self.kind!r} (one_to_one, same, explicit)")
            bad = [t for t in steps if not 0 <= t < n_steps]
            if bad:
                raise NeuralDataError(
                    f"time bin {s:g}-{e:g} ms (coordinates 'time_bin_start'/'time_bin_end') maps to model "
                    f"step(s) {bad}, outside the {n_steps} steps of the features "
                    f"(step_ms={self.step_ms}, offset_ms={self.offset_ms})")
            out.append(steps)
        return out


def feature_ids(features, stimulus_ids=None):
    """Stimulus ids of the features: ``stimulus_ids`` if given, else the DataArray's coordinate."""
    if stimulus_ids is not None:
        ids = np.asarray(stimulus_ids).astype(str)
    else:
        coords = getattr(features, "coords", None)
        name = next((n for n in ("stimulus_id", "image_id") if coords is not None and n in coords), None)
        if name is None:
            raise NeuralDataError("features: no stimulus ids; pass stimulus_ids=... or an xarray.DataArray "
                                  "with a 'stimulus_id' coordinate")
        ids = np.asarray(features[name].values).astype(str)
    if len(ids) != features.shape[0]:
        raise NeuralDataError(f"features: {len(ids)} stimulus ids (coordinate 'stimulus_id') for "
                              f"{features.shape[0]} feature rows")
    return ids


def layout(features, temporal=None):
    """(values, n_steps or None): DataArrays are reordered to (stimulus, time_step, ...) and unwrapped
    (a ``time_bin`` dim, as `bin/extract_features` writes model steps, counts as ``time_step``);
    ``temporal`` defaults to ``ndim == 3`` (or a ``time_step`` dim)."""
    dims = getattr(features, "dims", None)
    if dims is not None and not isinstance(features, np.ndarray):
        if "time_bin" in dims and "time_step" not in dims:  # bin/extract_features names model steps so
            features = features.rename(time_bin="time_step")
            dims = features.dims
        has_time = "time_step" in dims
        order = [dims[0]] + (["time_step"] if has_time else []) + [d for d in dims[1:] if d != "time_step"]
        features = features.transpose(*order).values
        temporal = has_time if temporal is None else temporal
    ndim = len(features.shape)
    temporal = ndim == 3 if temporal is None else temporal
    if ndim < 2 or (temporal and ndim < 3):
        raise NeuralDataError(f"features: shape {features.shape} needs (stimulus, [time_step,] feature...)")
    return features, (features.shape[1] if temporal else None)


def compute_grams(features, rows, recipes, n_steps=None, chunk_bytes=64 << 20, pca=None):
    """Gram matrices (len(recipes), n, n) of the step-averaged features of stimuli ``rows`` (indices into
    the features' first axis, in assembly order), centred over those stimuli, in float64, reading
    ``features`` in column chunks of about ``chunk_bytes``. ``pca=k`` replaces each Gram by its rank-k
    eigen-approximation, i.e. the Gram of the top-k principal-component scores of the same stimuli."""
    rows = np.asarray(rows)
    n = len(rows)
    trailing = features.shape[2:] if n_steps is not None else features.shape[1:]
    if not trailing or int(np.prod(trailing)) < 1:
        raise NeuralDataError("features: no feature columns")
    unit = int(np.prod(trailing[1:]))  # features per index of the first feature axis
    fetch = np.unique(rows)  # sorted, as h5py needs
    pick = np.searchsorted(fetch, rows)
    grams = np.zeros((len(recipes), n, n))
    width = max(1, int(chunk_bytes // (8 * len(fetch) * unit)))
    for g, steps in enumerate(recipes):
        for a in range(0, trailing[0], width):
            b = min(trailing[0], a + width)
            acc = 0.0
            for t in steps:
                block = features[fetch, t, a:b] if n_steps is not None else features[fetch, a:b]
                acc = acc + np.asarray(block, dtype=np.float64).reshape(len(fetch), -1)
            x = (acc / len(steps))[pick]
            if not np.all(np.isfinite(x)):
                raise NeuralDataError(f"features: non-finite values in feature slice {a}:{b} of steps {steps}")
            x -= x.mean(axis=0)
            grams[g] += x @ x.T
        if pca is not None:
            lam, U = np.linalg.eigh(grams[g])
            top = slice(max(0, n - int(pca)), n)
            grams[g] = (U[:, top] * np.maximum(lam[top], 0.0)) @ U[:, top].T
    return grams

