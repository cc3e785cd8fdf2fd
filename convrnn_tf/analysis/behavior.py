"""Rajalingham et al. (2018) behavioural metrics I1, I2, I1n, I2n and their noise-corrected consistency.

Everything starts from a two-alternative table per image i (true class c_i) and distractor class o != c_i:
``trials[i, o]`` (number of trials, or a weight) and ``hits[i, o]`` (correct choices among them).

* trial data (match-to-sample, 2AFC): counts from the trial table.
* model class probabilities p_i: one weighted trial per cell, hits[i, o] = p_i(c_i) / (p_i(c_i) + p_i(o)).

With E[a, o] = sum over images j of class a of (trials - hits)[j, o] (choices of o when a was shown against
o) and N[a, o] = sum over the same images of trials[j, o]::

    I1:  HR_i = sum_o hits[i, o] / sum_o trials[i, o]      FAR_c = sum_a E[a, c] / sum_a N[a, c]   (pooled)
         I1_i = d'(HR_i, FAR_{c_i})
    I2:  HR_io = hits[i, o] / trials[i, o]                 FAR_io = E[o, c_i] / N[o, c_i]
         I2_io = d'(HR_io, FAR_io)                          (NaN for o = c_i and for empty cells)
    d'(HR, FAR) = clip(Phi^-1(HR) - Phi^-1(FAR), -5, 5)     (see ``_stats.dprime``)
    I1n_i  = I1_i  - mean_{j: c_j = c_i} I1_j               I2n_io = I2_io - mean_{j: c_j = c_i} I2_jo

Consistency between a and b (e.g. model vs humans) with split halves (a0, a1), (b0, b1) of the trials::

    rho = (r(a0, b1) + r(a1, b0)) / 2    IC_a = r(a0, a1)    IC_b = r(b0, b1)    rho_n = rho / sqrt(IC_a IC_b)

r = Pearson over entries finite in all arrays compared; no Spearman-Brown. A source without trials (model
probabilities) is used whole for both halves, so its IC is 1. Values are per split-half iteration; the
summary is their mean (rho_n is NaN in an iteration where IC_a * IC_b <= 0).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings

import numpy as np

from . import _arrays
from ._stats import DPRIME_CLIP, dprime, pearson

#: column names tried, in order, for a Rajalingham-style trial table (``columns=`` overrides them).
TRIAL_COLUMNS = {
    "stimulus": ("stimulus_id", "image_id"),
    "truth": ("truth", "sample_obj"),
    "distractor": ("distractor", "dist_obj"),
    "choice": ("choice",),
}
METRICS = ("i1", "i1n", "i2", "i2n")


@dataclasses.dataclass
class Behavior:
    """Per-image 2AFC table; ``hits``/``trials`` may carry leading dims (e.g. [T, I, C] over time)."""

    images: np.ndarray  # [I] stimulus ids
    classes: np.ndarray  # [C] class names
    labels: np.ndarray  # [I] class index of each image
    hits: np.ndarray  # [..., I, C]
    trials: np.ndarray  # [..., I, C]
    has_trials: bool = True  # False: from probabilities (no split halves)

    def _errors(self):
        onehot = np.eye(len(self.classes))[self.labels]  # [I, C]
        err = np.einsum("ia,...io->...ao", onehot, self.trials - self.hits)
        n = np.einsum("ia,...io->...ao", onehot, self.trials)
        return err, n  # [..., C(shown), C(distractor)]

    def i1(self, normalize=False, clip=DPRIME_CLIP) -> np.ndarray:
        """[..., I] I1 (or I1n) d' per image."""
        err, n = self._errors()
        with np.errstate(invalid="ignore", divide="ignore"):
            hr = self.hits.sum(-1) / self.trials.sum(-1)
            far = err.sum(-2) / n.sum(-2)  # [..., C] choices of c when c was the distractor
        d = dprime(hr, far[..., self.labels], clip)
        return self._normalize(d, axis_extra=False) if normalize else d

    def i2(self, normalize=False, clip=DPRIME_CLIP) -> np.ndarray:
        """[..., I, C] I2 (or I2n) d' per image and distractor; NaN on the image's own class."""
        err, n = self._errors()
        with np.errstate(invalid="ignore", divide="ignore"):
            hr = self.hits / self.trials
            far = np.swapaxes(err / n, -1, -2)[..., self.labels, :]  # [..., I, o] = E[o, c_i] / N[o, c_i]
        d = dprime(hr, far, clip)
        d[..., np.arange(len(self.labels)), self.labels] = np.nan
        return self._normalize(d, axis_extra=True) if normalize else d

    def metric(self, name="i2n", clip=DPRIME_CLIP) -> np.ndarray:
        if name not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}; got {name!r}")
        fn = self.i1 if name.startswith("i1") else self.i2
        return fn(normalize=name.endswith("n"), clip=clip)

    def _normalize(self, d, axis_extra):
        out = d.copy()
        ax = -2 if axis_extra else -1
        for c in range(len(self.classes)):
            m = self.labels == c
            if m.any():
                sel = np.compress(m, d, axis=ax)
                with _quiet():
                    mean = np.nanmean(sel, axis=ax, keepdims=True)
                idx = [slice(None)] * d.ndim
                idx[ax] = m
                out[tuple(idx)] = sel - mean
        return out


@contextlib.contextmanager
def _quiet():
    """Silence 'mean of empty slice' warnings (all-NaN columns give NaN, as documented)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def from_probabilities(probabilities, labels, images=None, classes=None) -> Behavior:
    """Behaviour of a model from class probabilities ``[..., I, C]`` (leading dims allowed, e.g. time).

    ``labels``: class index per image, or class names when ``classes`` (the probability columns) is given.
    """
    p = np.asarray(probabilities, dtype=float)
    n_img, n_cls = p.shape[-2:]
    classes = np.arange(n_cls) if classes is None else np.asarray(classes)
    if len(classes) != n_cls:
        raise ValueError(f"classes has {len(classes)} names; probabilities have {n_cls} columns")
    if n_cls < 2:
        raise ValueError(f"probabilities hold fewer than two classes ({n_cls}); I1/I2 need >= 2")
    labels = np.asarray(labels)
    if labels.shape != (n_img,):
        raise ValueError(f"labels must have one entry per image ({n_img}); got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        lookup = {c: k for k, c in enumerate(classes.tolist())}
        missing = sorted({str(v) for v in labels.tolist() if v not in lookup})
        if missing:
            raise ValueError(f"labels {missing} are not among the classes {classes.tolist()}")
        labels = np.asarray([lookup[v] for v in labels.tolist()])
    elif labels.size and (labels.min() < 0 or labels.max() >= n_cls):
        raise ValueError(f"labels must index the {n_cls} probability columns; got {labels.min()} to "
                         f"{labels.max()}")
    pc = np.take_along_axis(p, np.broadcast_to(labels[:, None], p.shape[:-1] + (1,)), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hits = pc / (pc + p)
    trials = np.ones_like(hits)
    own = (np.arange(n_img), labels)
    hits[..., own[0], own[1]] = 0.0
    trials[..., own[0], own[1]] = 0.0
    hits = np.where(np.isfinite(hits), hits, 0.5 * trials)  # p_c = p_o = 0: no preference
    images = np.arange(n_img) if images is None else np.asarray(images)
    return Behavior(images=images, classes=classes, labels=labels, hits=hits, trials=trials, has_trials=False)


def trial_columns(table, columns=None) -> dict:
    """The trial table's stimulus, truth, distractor and choice columns as arrays (see TRIAL_COLUMNS)."""
    names = _arrays.table_columns(table)
    out = {}
    for role, tried in TRIAL_COLUMNS.items():
        want = (columns or {}).get(role)
        if want is not None:
            out[role] = _arrays.column(table, want, role=f"{role} column")
            continue
        hit = next((c for c in tried if c in names), None)
        if hit is None:
            raise ValueError(f"trial table lacks a {role} column (tried {list(tried)}; columns: {names})")
        out[role] = np.asarray(table[hit])
    return out


def from_trials(table, columns=None, mask=None) -> Behavior:
    """Behaviour from a Rajalingham-style trial table (one row per trial); ``mask`` selects trials."""
    cols = trial_columns(table, columns)
    if mask is not None:
        cols = {k: v[np.asarray(mask, dtype=bool)] for k, v in cols.items()}
    stim, truth, dist, choice = cols["stimulus"], cols["truth"], cols["distractor"], cols["choice"]
    bad = ~((choice == truth) | (choice == dist))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} trial(s) have a choice that is neither the truth nor the "
                         "distractor")
    if np.any(truth == dist):
        raise ValueError("some trials have distractor == truth")
    classes, cls_idx = np.unique(np.concatenate([truth, dist]), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"trial table holds fewer than two classes ({classes.tolist()})")
    t_idx, d_idx = cls_idx[: len(truth)], cls_idx[len(truth):]
    images, img_idx = np.unique(stim, return_inverse=True)
    labels = np.full(len(images), -1)
    labels[img_idx] = t_idx
    if np.any(labels[img_idx] != t_idx):
        raise ValueError("a stimulus appears with two different true classes in the trial table")
    trials = np.zeros((len(images), len(classes)))
    hits = np.zeros_like(trials)
    np.add.at(trials, (img_idx, d_idx), 1.0)
    np.add.at(hits, (img_idx, d_idx), (choice == truth).astype(float))
    return Behavior(images=images, classes=classes, labels=labels, hits=hits, trials=trials)


def split_half_masks(stimulus_ids, niter=10, seed=0) -> np.ndarray:
    """[niter, n_trials] bool, True = half 0: each stimulus's trials in random order, the first floor(n/2)."""
    stim = np.unique(np.asarray(stimulus_ids), return_inverse=True)[1]
    rng = np.random.default_rng(seed)
    counts = np.bincount(stim)
    masks = np.zeros((niter, len(stim)), dtype=bool)
    for it in range(niter):
        order = np.lexsort((rng.random(len(stim)), stim))
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pos = np.arange(len(stim)) - start[stim[order]]
        masks[it, order] = pos < counts[stim[order]] // 2
    return masks


@dataclasses.dataclass
class Consistency:
    rho: np.ndarray  # [niter]
    ic_a: np.ndarray  # [niter] split-half reliability of a
    ic_b: np.ndarray  # [niter]
    rho_n: np.ndarray  # [niter] rho / sqrt(ic_a * ic_b)
    metric: str

    @property
    def value(self) -> float:
        """Mean noise-corrected consistency over iterations."""
        with _quiet():
            return float(np.nanmean(self.rho_n))

    @property
    def std(self) -> float:
        with _quiet():
            return float(np.nanstd(self.rho_n))


def _halves(source, metric, niter, seed, columns, clip):
    if isinstance(source, Behavior):
        m = source.metric(metric, clip)
        return source, [(m, m)] * niter
    cols = trial_columns(source, columns)
    whole = from_trials(source, columns)
    pairs = []
    for mask in split_half_masks(cols["stimulus"], niter, seed):
        h0, h1 = (from_trials(source, columns, m) for m in (mask, ~mask))
        pairs.append(tuple(_reindex(h, h.metric(metric, clip), whole) for h in (h0, h1)))
    return whole, pairs


def _reindex(beh: Behavior, values, ref: Behavior):
    """``values`` of ``beh`` laid out on ``ref``'s images (and classes, for I2): NaN where absent."""
    i2 = values.ndim == 2
    img = _positions(ref.images, beh.images)
    shape = (len(ref.images), len(ref.classes)) if i2 else (len(ref.images),)
    out = np.full(shape, np.nan)
    ok = img >= 0
    if i2:
        cls = _positions(ref.classes, beh.classes)
        okc = cls >= 0
        out[np.ix_(img[ok], cls[okc])] = values[np.ix_(np.flatnonzero(ok), np.flatnonzero(okc))]
    else:
        out[img[ok]] = values[ok]
    return out


def _positions(ref, items):
    lookup = {v: k for k, v in enumerate(np.asarray(ref).tolist())}
    return np.asarray([lookup.get(v, -1) for v in np.asarray(items).tolist()], dtype=int)


def consistency(a, b, metric="i2n", niter=10, seed=0, columns=None, clip=DPRIME_CLIP) -> Consistency:
    """Noise-corrected consistency of ``a`` with ``b`` (see the module docstring).

    ``a``/``b``: a trial table (split into halves by :func:`split_half_masks` with seeds ``seed`` and
    ``seed + 1``) or a :class:`Behavior` (used whole). Images and classes are matched by name; entries
    missing on either side are left out.
    """
    beh_a, pa = _halves(a, metric, niter, seed, columns, clip)
    beh_b, pb = _halves(b, metric, niter, seed + 1, columns, clip)
    rho, ic_a, ic_b = [], [], []
    for (a0, a1), (b0, b1) in zip(pa, pb):
        b0, b1 = (_reindex(beh_b, v, beh_a) for v in (b0, b1))
        ok = np.isfinite(a0) & np.isfinite(a1) & np.isfinite(b0) & np.isfinite(b1)
        if not ok.any():
            raise ValueError("a and b share no image (and class) with a finite metric; check that their "
                             "stimulus ids and class names match (from_probabilities(images=...))")
        a0, a1, b0, b1 = (np.where(ok, v, np.nan) for v in (a0, a1, b0, b1))
        rho.append(0.5 * (pearson(a0, b1) + pearson(a1, b0)))
        ic_a.append(pearson(a0, a1))
        ic_b.append(pearson(b0, b1))
    rho, ic_a, ic_b = map(np.asarray, (rho, ic_a, ic_b))
    prod = ic_a * ic_b
    with np.errstate(invalid="ignore"):
        rho_n = np.where(prod > 0, rho / np.sqrt(np.where(prod > 0, prod, 1.0)), np.nan)
    return Consistency(rho=rho, ic_a=ic_a, ic_b=ic_b, rho_n=rho_n, metric=metric)


def split_half_reliability(table, metric="i2n", niter=10, seed=0, columns=None, clip=DPRIME_CLIP):
    """[niter] Pearson r between the metric on the two halves of the trials (no Spearman-Brown)."""
    _, pairs = _halves(table, metric, niter, seed, columns, clip)
    return np.asarray([pearson(h0, h1) for h0, h1 in pairs])
