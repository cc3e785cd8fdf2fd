"""Simulated time-resolved populations with a known decoding onset and a known challenge-image delay.

Model (``P`` images of ``n_classes`` objects, ``N`` neuroids, responses sampled at the bin times ``t``)::

    onset_i  = onset + delay * challenge_i + jitter_i          (jitter_i ~ U[-jitter, +jitter], in ms)
    s_i(t)   = clip((t - onset_i) / rise, 0, 1)                (identity signal ramps up over ``rise`` ms)
    r[i,n,t] = baseline_n + s_i(t) * signal * (mu[c_i, n] + image_sd * e[i, n]) + noise * eps[i, n, t]

with ``mu``, ``e``, ``eps`` standard normal (``rise`` defaults to the bin width, i.e. a bin labelled t
holds the information accumulated up to t). Identity is linearly decodable only after ``onset_i``, and
challenge images become decodable ``delay`` ms later than control images (Kar et al. 2019 report ~30 ms
in IT).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class SimulatedPopulation:
    responses: np.ndarray  # [P, N, T]
    labels: np.ndarray  # [P] object name per image
    stimulus_ids: np.ndarray  # [P]
    challenge: np.ndarray  # [P] bool
    onsets: np.ndarray  # [P] true decoding onset per image (ms)
    time_bins: np.ndarray  # [T] bin starts (ms)
    bin_width: float


def simulate_population(
    n_classes=8, images_per_class=20, n_neurons=50, time_bins=None, bin_width=10.0, onset=90.0, delay=30.0,
    rise=None, challenge_fraction=0.5, jitter=0.0, signal=1.5, image_sd=0.3, noise=1.0, onsets=None,
    challenge=None, seed=0,
) -> SimulatedPopulation:
    """Draw one population (see the module docstring). ``onsets``/``challenge`` [P] override the draws,
    so two populations (e.g. "model" and "neural") can share per-image solution times."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, 250.0, bin_width) if time_bins is None else np.asarray(time_bins, float)
    n = n_classes * images_per_class
    labels = np.repeat([f"obj{c}" for c in range(n_classes)], images_per_class)
    cls = np.repeat(np.arange(n_classes), images_per_class)
    if challenge is None:
        challenge = np.zeros(n, dtype=bool)
        for c in range(n_classes):  # the same fraction of challenge images in every class
            idx = np.flatnonzero(cls == c)
            challenge[rng.choice(idx, int(round(challenge_fraction * len(idx))), replace=False)] = True
    challenge = np.asarray(challenge, dtype=bool)
    if onsets is None:
        onsets = onset + delay * challenge + rng.uniform(-jitter, jitter, n)
    onsets = np.asarray(onsets, dtype=float)
    mu = rng.standard_normal((n_classes, n_neurons))
    img = mu[cls] + image_sd * rng.standard_normal((n, n_neurons))
    rise = bin_width if rise is None else rise
    s = np.clip((times[None, :] - onsets[:, None]) / rise, 0.0, 1.0)  # [P, T]
    base = rng.standard_normal(n_neurons)
    r = base[None, :, None] + signal * s[:, None, :] * img[:, :, None]
    r = r + noise * rng.standard_normal(r.shape)
    return SimulatedPopulation(
        responses=r, labels=labels, stimulus_ids=np.asarray([f"im{i:04d}" for i in range(n)]),
        challenge=challenge, onsets=onsets, time_bins=times, bin_width=float(bin_width),
    )


def simulate_choices(probabilities, labels, trials_per_pair=10, seed=0, distractors=None):
    """Two-alternative (match-to-sample) trials drawn from per-image class probabilities.

    For image i (true class c) and distractor o, each trial picks c with probability
    ``p_i(c) / (p_i(c) + p_i(o))``. ``distractors``: class indices to use (default all others). Returns a
    dict table with columns ``stimulus_id``, ``truth``, ``distractor``, ``choice`` (class indices) - the
    Rajalingham et al. 2018 layout.
    """
    rng = np.random.default_rng(seed)
    p = np.asarray(probabilities, float)
    labels = np.asarray(labels)
    cols = {"stimulus_id": [], "truth": [], "distractor": [], "choice": []}
    for i, c in enumerate(labels):
        for o in range(p.shape[1]) if distractors is None else distractors:
            if o == c:
                continue
            q = p[i, c] / (p[i, c] + p[i, o])
            hit = rng.random(trials_per_pair) < q
            cols["stimulus_id"] += [i] * trials_per_pair
            cols["truth"] += [c] * trials_per_pair
            cols["distractor"] += [o] * trials_per_pair
            cols["choice"] += list(np.where(hit, c, o))
    return {k: np.asarray(v) for k, v in cols.items()}
