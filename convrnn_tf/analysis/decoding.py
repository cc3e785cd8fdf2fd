"""Cross-validated linear decoding of object/category identity in each time bin.

For each time bin t (or the causal window of ``window`` bins ending at t, averaged), a linear decoder
(``'logistic'``: multinomial logistic regression; ``'svm'``: one-vs-rest linear SVM) is fit on the
standardised features (z-scored with the training statistics) of the training stimuli and applied to the
held-out stimuli. Stimuli are assigned to ``n_splits`` folds by stratified k-fold (stratified by
``stratify``, default the labels); all presentations of one stimulus fall into the same fold, so every
stimulus is held out exactly once per repeat. Outputs, per repeat and presentation: the predicted class
and the class probabilities (logistic: ``predict_proba``; SVM: softmax of the decision values, a
monotone pseudo-probability). Summaries:

* accuracy(t) = mean over held-out presentations of [predicted == true]; chance = 1 / n_classes.
* population d'(t) = mean over classes c of clip(z(HR_c) - z(FAR_c), +-5), where
  HR_c = P(pred = c | true = c) and FAR_c = P(pred = c | true != c) over the held-out presentations, each
  rate log-linear corrected, (k + 0.5) / (n + 1), so that classes never predicted do not bias d' at chance
  (chance: 0). For the curve d' is computed on all held-out presentations of a repeat.
* per-split values (one per repeat x fold) give the SEM = std(ddof=1) / sqrt(n_repeats * n_splits).
* the shuffled-label control (``result.shuffled``) re-runs everything with the labels of the training
  stimuli permuted afresh in every fold and time bin, and scores the predictions against the true test
  labels; its expected accuracy is chance (permuting all labels instead would leave a positive bias: a
  permuted labelling still partly follows the true classes, which the decoder can exploit).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from . import _arrays
from ._stats import DPRIME_CLIP, dprime


@dataclasses.dataclass
class DecodingResult:
    """Held-out decoder outputs over time. ``R`` repeats, ``P`` presentations, ``T`` bins, ``C`` classes."""

    times: np.ndarray  # [T] bin times
    classes: np.ndarray  # [C] class labels (sorted)
    labels: np.ndarray  # [P] class index of each presentation (into ``classes``)
    stimulus_ids: np.ndarray  # [P]
    fold: np.ndarray  # [R, P] held-out fold of each presentation
    predicted: np.ndarray  # [R, P, T] predicted class index
    probabilities: np.ndarray  # [R, P, T, C] class probabilities (float32)
    n_splits: int
    decoder: str
    shuffled: DecodingResult | None = None

    @property
    def chance(self) -> float:
        """Chance accuracy 1 / n_classes (d' chance is 0)."""
        return 1.0 / len(self.classes)

    @property
    def correct(self) -> np.ndarray:
        """[R, P, T] bool: the prediction equals the true class."""
        return self.predicted == self.labels[None, :, None]

    @property
    def correct_probability(self) -> np.ndarray:
        """[R, P, T] probability given to the true class of each presentation."""
        idx = np.broadcast_to(self.labels[None, :, None, None], self.probabilities.shape[:3] + (1,))
        return np.take_along_axis(self.probabilities, idx, axis=-1)[..., 0]

    def curve(self, metric="accuracy") -> np.ndarray:
        """[T] the metric over all held-out presentations (d': per repeat, then averaged)."""
        if metric == "accuracy":
            return self.correct.mean(axis=(0, 1))
        return np.nanmean([population_dprime(p, self.labels, len(self.classes)) for p in self.predicted], 0)

    def split_scores(self, metric="accuracy") -> np.ndarray:
        """[R * n_splits, T] the metric on the held-out presentations of each repeat and fold."""
        _check_metric(metric)
        rows = []
        for r in range(self.fold.shape[0]):
            for f in range(self.n_splits):
                m = self.fold[r] == f
                if not m.any():
                    continue
                if metric == "accuracy":
                    rows.append(self.correct[r, m].mean(axis=0))
                else:
                    rows.append(population_dprime(self.predicted[r, m], self.labels[m], len(self.classes)))
        return np.asarray(rows)

    def sem(self, metric="accuracy") -> np.ndarray:
        """[T] standard error over splits: std(ddof=1) / sqrt(number of splits)."""
        s = self.split_scores(metric)
        return np.nanstd(s, axis=0, ddof=1) / np.sqrt(s.shape[0])

    @property
    def accuracy(self) -> np.ndarray:
        return self.curve("accuracy")

    @property
    def dprime(self) -> np.ndarray:
        return self.curve("dprime")

    def stimuli(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids [S], first [S], index [P])``: unique stimuli in order of first appearance, the first
        presentation of each, and each presentation's stimulus (identity when each is shown once)."""
        _, first, inv = np.unique(self.stimulus_ids, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return self.stimulus_ids[first[order]], first[order], rank[inv]

    def subset(self, mask) -> DecodingResult:
        """The same result restricted to the presentations where ``mask`` is True (e.g. challenge images)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.labels.shape:
            raise ValueError(f"mask has shape {mask.shape}; the result has {len(self.labels)} presentations")
        sub = dataclasses.replace(
            self, labels=self.labels[mask], stimulus_ids=self.stimulus_ids[mask], fold=self.fold[:, mask],
            predicted=self.predicted[:, mask], probabilities=self.probabilities[:, mask],
            shuffled=None if self.shuffled is None else self.shuffled.subset(mask),
        )
        return sub


def _check_metric(metric):
    if metric not in ("accuracy", "dprime"):
        raise ValueError(f"metric must be 'accuracy' or 'dprime'; got {metric!r}")


def population_dprime(predicted, labels, n_classes, clip=DPRIME_CLIP) -> np.ndarray:
    """Mean over classes of clip(z(HR_c) - z(FAR_c)) from hard predictions ``[P, ...]`` (see module doc)."""
    predicted = np.asarray(predicted)
    labels = np.asarray(labels).reshape((-1,) + (1,) * (predicted.ndim - 1))
    out = []
    for c in range(n_classes):
        pos, neg = labels == c, labels != c
        if not pos.any() or not neg.any():
            continue
        said_c = predicted == c
        hr = ((said_c & pos).sum(0) + 0.5) / (pos.sum(0) + 1.0)
        far = ((said_c & neg).sum(0) + 0.5) / (neg.sum(0) + 1.0)
        out.append(dprime(hr, far, clip))
    return np.mean(out, axis=0) if out else np.full(predicted.shape[1:], np.nan)


def causal_window(x, window):
    """Average of the last ``window`` bins up to and including each bin (fewer at the start): [P, N, T]."""
    if window < 1:
        raise ValueError(f"window must be >= 1 bins; got {window}")
    if window == 1:
        return x
    c = np.cumsum(np.concatenate([np.zeros_like(x[..., :1]), x], axis=-1), axis=-1)
    t = np.arange(x.shape[-1])
    lo = np.maximum(0, t + 1 - window)
    return (c[..., t + 1] - c[..., lo]) / (t + 1 - lo)


def make_decoder(decoder="logistic", C=0.1, max_iter=1000, seed=0):
    """StandardScaler + a linear classifier; ``C`` is the inverse L2 regularisation strength."""
    if decoder == "logistic":
        clf = LogisticRegression(C=C, max_iter=max_iter)
    elif decoder == "svm":
        clf = LinearSVC(C=C, max_iter=max_iter, random_state=seed)
    else:
        raise ValueError(f"decoder must be 'logistic' or 'svm'; got {decoder!r}")
    return make_pipeline(StandardScaler(), clf)


def _probabilities(model, x, decoder):
    if decoder == "logistic":
        return model.predict_proba(x)
    d = model.decision_function(x)
    if d.ndim == 1:  # binary: decision value for classes_[1]
        d = np.stack([-d / 2, d / 2], axis=1)
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def per_stimulus(stimulus_ids, values, name="label") -> np.ndarray:
    """The value of each unique stimulus (sorted ids); ValueError names a stimulus with two values."""
    _, first, inv = np.unique(stimulus_ids, return_index=True, return_inverse=True)
    values = np.asarray(values)
    bad = np.flatnonzero(values[first][inv] != values)
    if bad.size:
        raise ValueError(f"stimulus {np.asarray(stimulus_ids)[bad[0]]!r} carries more than one {name}")
    return values[first]


def assign_folds(stimulus_ids, strata, n_splits, n_repeats=1, seed=0) -> np.ndarray:
    """[R, P] fold of each presentation: stratified k-fold over unique stimuli (``strata`` per presentation).

    ValueError when a stimulus carries two strata, when ``n_splits`` < 2, or when a stratum has fewer
    stimuli than ``n_splits`` (named in the message).
    """
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2; got {n_splits}")
    stims, first, inv = np.unique(stimulus_ids, return_index=True, return_inverse=True)
    stim_strata = per_stimulus(stimulus_ids, strata, "stratum")
    names, counts = np.unique(stim_strata, return_counts=True)
    if counts.min() < n_splits:
        few = {str(n): int(c) for n, c in zip(names, counts) if c < n_splits}
        raise ValueError(
            f"too few stimuli per class for {n_splits} splits: class(es) {few} have fewer than {n_splits} "
            "stimuli; lower n_splits or drop those classes"
        )
    folds = np.empty((n_repeats, len(stimulus_ids)), dtype=int)
    for r in range(n_repeats):
        skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        stim_fold = np.empty(len(stims), dtype=int)
        for f, (_, test) in enumerate(skf.split(np.zeros(len(stims)), stim_strata)):
            stim_fold[test] = f
        folds[r] = stim_fold[inv]
    return folds


def decode_over_time(
    responses, labels, time_bins=None, *, stimulus_ids=None, stratify=None, n_splits=10, n_repeats=1,
    decoder="logistic", C=0.1, window=1, select=None, shuffle_control=True, max_iter=1000, seed=0,
) -> DecodingResult:
    """Decode ``labels`` from ``responses [P, N, T]`` in every time bin; see the module docstring.

    ``labels``/``stimulus_ids``/``stratify`` are per-presentation arrays (or coordinate names of a
    DataArray). ``select`` keeps only the listed bin times (ValueError names missing bins). ``C``: inverse
    L2 strength (default 0.1, a design choice: it keeps held-out probabilities near uniform where there is
    no information, so per-image d' stays near 0 before the response). Defaults follow Kar et al. 2019
    (10 splits); pass ``select=KAR2019_TIME_BINS`` for their 70-250 ms bins. ``n_repeats`` > 1 repeats
    the k-fold with other random fold assignments; ``window`` > 1 decodes causal windows of that many bins.
    """
    make_decoder(decoder, C, max_iter, seed)  # validates the decoder name before any work
    x, times = _arrays.as_responses(responses, time_bins, select)
    n = x.shape[0]
    y = _arrays.labels_of(labels, responses, n, "labels")
    classes, yi = _arrays.classes_of(y)
    stim = np.arange(n) if stimulus_ids is None else _arrays.labels_of(stimulus_ids, responses, n,
                                                                        "stimulus_ids")
    strata = y if stratify is None else _arrays.labels_of(stratify, responses, n, "stratify")
    per_stimulus(stim, yi, "label")
    folds = assign_folds(stim, strata, n_splits, n_repeats, seed)
    xw = causal_window(x, window)
    res = _run(xw, yi, classes, stim, times, folds, n_splits, decoder, C, max_iter, seed)
    if shuffle_control:
        res.shuffled = _run(xw, yi, classes, stim, times, folds, n_splits, decoder, C, max_iter, seed,
                            shuffle_seed=seed + 7919)
    return res


def _run(x, yi, classes, stim, times, folds, n_splits, decoder, C, max_iter, seed, shuffle_seed=None):
    n_rep, (n, _, n_t), n_c = folds.shape[0], x.shape, len(classes)
    pred = np.zeros((n_rep, n, n_t), dtype=int)
    proba = np.zeros((n_rep, n, n_t, n_c), dtype=np.float32)
    with threadpool_limits(limits=1):  # many tiny fits: BLAS threads only add overhead
        _fit_all(x, yi, np.unique(stim, return_inverse=True)[1], folds, n_splits, decoder, C, max_iter, seed,
                 pred, proba, shuffle_seed)
    return DecodingResult(times=times, classes=classes, labels=yi, stimulus_ids=np.asarray(stim), fold=folds,
                          predicted=pred, probabilities=proba, n_splits=n_splits, decoder=decoder)


def _fit_all(x, yi, stim_code, folds, n_splits, decoder, C, max_iter, seed, pred, proba, shuffle_seed):
    n_c, n_t = proba.shape[-1], x.shape[2]
    rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    for r in range(folds.shape[0]):
        for f in range(n_splits):
            test = folds[r] == f
            train = ~test
            _, first, inv = np.unique(stim_code[train], return_index=True, return_inverse=True)
            for t in range(n_t):
                y_train = yi[train]
                if rng is not None:  # control: permute the training stimuli's labels (test labels stay true)
                    y_train = rng.permutation(y_train[first])[inv]
                present = np.unique(y_train)
                model = make_decoder(decoder, C, max_iter, seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(x[train, :, t], y_train)
                p = np.zeros((test.sum(), n_c))
                p[:, present] = _probabilities(model, x[test, :, t], decoder)
                proba[r, test, t] = p
                pred[r, test, t] = present[np.argmax(p[:, present], axis=1)]
