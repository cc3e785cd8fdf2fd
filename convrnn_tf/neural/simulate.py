"""Simulated V4/IT recordings from a known ground-truth dynamical model (tests and the embedded demo).

The generative model, per stimulus i (time steps of 10 ms from 0 ms; step t covers [10 t, 10 t + 10)):

1. fixed random image features ``f_i``: grey-level and colour pixels downsampled to 8 x 8, centred,
   projected by a fixed random matrix and passed through ``tanh`` (d dimensions, z-scored);
2. V4 latents ``v_i(t) = g_V4(t) * tanh(A f_i)``: a feedforward sweep with a transient temporal profile
   ``g`` (onset ``v4_onset_ms``, peak ~20 ms later, decay to a sustained 30 %);
3. IT latents ``x_i(t)``: a leaky recurrent network driven by the feedforward drive
   ``u_ff = g_IT(t) * tanh(B v_i)`` (onset ``it_onset_ms``) and by a feedback/recurrent category signal
   ``gate(t) * c[category_i]`` with ``gate = sigmoid((t - late_onset_ms) / 10 ms)``, so that late IT
   responses carry a category component that the early (feedforward) stage does not::

       x(t + 1) = x(t) + (dt / tau) (-x(t) + W x(t) + u_ff(t) + gate(t) c[category])

4. responses: mean spike count per 10 ms bin ``mu[i, j, t] = gain_j * softplus(latent_i(t) . w_j + b_j)``
   (latent = V4 or IT according to the neuroid's region), and trials ``~ Poisson(mu)``, R repetitions.

The true noise ceiling per neuroid and bin is the reliability of the R-trial average,
``var_i(mu) / (var_i(mu) + mean_i(mu) / R)`` (Poisson noise variance = mean), which the split-half +
Spearman-Brown estimate of :func:`convrnn_tf.neural.split_half_consistency` targets.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from convrnn_tf.neural.assembly import make_assembly

STEP_MS = 10.0


@dataclasses.dataclass
class SimulatedRecording:
    """What :func:`simulate_recording` returns.

    assembly: trials (presentation x neuroid x time_bin), regions "V4" and "IT";
    ceiling: true reliability of the repetition average, (neuroid, time_bin);
    ceiling_median: (time_bin,) median over neuroids of ``ceiling`` per region, ``{region: array}``;
    latents: ground-truth model features ``{name: float32 [N, n_steps, d]}`` with names "V4", "IT" and
    "IT_feedforward" (the IT feedforward drive alone), step t covering [10 t, 10 t + 10) ms;
    stimulus_id: (N,); mean: noise-free mean counts (N, neuroid, time_bin); images/metadata: the stimuli.
    """

    assembly: object
    ceiling: np.ndarray
    ceiling_median: dict
    latents: dict
    stimulus_id: np.ndarray
    mean: np.ndarray
    images: np.ndarray
    metadata: dict


def _softplus(x):
    return np.logaddexp(0.0, x)


def _profile(t_ms, onset, rise=20.0, decay=40.0, sustained=0.3):
    """A transient response: 0 before ``onset``, peak ~rise ms after, decays to ``sustained``."""
    s = np.clip(t_ms - onset, 0.0, None)
    up = 1.0 - np.exp(-s / (rise / 3.0))
    return up * (sustained + (1.0 - sustained) * np.exp(-np.clip(s - rise, 0.0, None) / decay))


def image_features(images, d=16, seed=0, grid=8):
    """Fixed random features of images (N, H, W, C): downsampled pixels -> random projection -> tanh."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {x.shape}")
    n, h, w, c = x.shape
    if x.max() > 1.5:
        x = x / 255.0
    gh, gw = min(grid, h), min(grid, w)
    x = x[:, : h // gh * gh, : w // gw * gw]
    pooled = x.reshape(n, gh, h // gh, gw, w // gw, c).mean(axis=(2, 4)).reshape(n, -1)
    pooled = pooled - pooled.mean(axis=0)
    pooled = pooled / (pooled.std(axis=0) + 1e-6)
    rng = np.random.default_rng([seed, 11])
    proj = rng.normal(size=(pooled.shape[1], d)) / np.sqrt(pooled.shape[1])
    f = np.tanh(1.5 * pooled @ proj)
    return (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-6)


def simulate_recording(images=None, metadata=None, *, seed=0, image_size=32, images_per_object=2,
                       n_v4=40, n_it=40, n_reps=10, n_latent=12, bin_start_ms=70.0, bin_end_ms=260.0,
                       bin_ms=10.0, v4_onset_ms=50.0, it_onset_ms=62.0, late_onset_ms=150.0,
                       category_strength=2.0, tau_ms=20.0, gain_range=(0.3, 4.0), cache_dir=None):
    """Simulate V4 and IT trials for a stimulus set (see the module docstring for the model).

    images/metadata: stimuli (N, H, W, C) and a dict with ``image_id`` (or ``stimulus_id``),
    ``object_name`` and ``category_name``; default: ``embedded.load(seed, image_size, images_per_object)``.
    Returns a :class:`SimulatedRecording`; everything is a deterministic function of ``seed``.
    """
    if images is None:
        from convrnn_tf.data import embedded

        images, metadata = embedded.load(seed=seed, image_size=image_size, images_per_object=images_per_object,
                                         cache_dir=cache_dir)
    if metadata is None:
        raise ValueError("simulate_recording: images given without metadata (need object_name, category_name)")
    for key in ("object_name", "category_name"):
        if key not in metadata:
            raise ValueError(f"simulate_recording: metadata lacks {key!r}")
    if n_reps < 2:
        raise ValueError(f"simulate_recording: n_reps must be >= 2 for a noise ceiling, got {n_reps}")
    ids = np.asarray(metadata.get("stimulus_id", metadata.get("image_id")))
    if ids is None or ids.ndim == 0:
        ids = np.array([f"stim{i:05d}" for i in range(len(images))])
    ids = ids.astype(str)
    obj = np.asarray(metadata["object_name"]).astype(str)
    cat = np.asarray(metadata["category_name"]).astype(str)
    n = len(ids)
    rng = np.random.default_rng([seed, 7])
    d = n_latent

    starts = np.arange(bin_start_ms, bin_end_ms - 1e-9, bin_ms)
    ends = starts + bin_ms
    n_steps = int(np.ceil(bin_end_ms / STEP_MS))
    t_ms = STEP_MS * np.arange(n_steps) + STEP_MS / 2  # step centres

    f = image_features(images, d=2 * d, seed=seed)
    A = rng.normal(size=(f.shape[1], d)) / np.sqrt(f.shape[1])
    v_static = np.tanh(1.5 * f @ A)
    v4 = _profile(t_ms, v4_onset_ms)[None, :, None] * v_static[:, None, :]

    B = rng.normal(size=(d, d)) / np.sqrt(d)
    it_drive = np.tanh(1.5 * v_static @ B)
    u_ff = _profile(t_ms, it_onset_ms)[None, :, None] * it_drive[:, None, :]
    cats, cat_idx = np.unique(cat, return_inverse=True)
    c = category_strength * rng.normal(size=(len(cats), d)) / np.sqrt(d) * np.sqrt(d / 4)
    gate = 1.0 / (1.0 + np.exp(-(t_ms - late_onset_ms) / 10.0))
    W = rng.normal(size=(d, d))
    W = 0.5 * W / np.max(np.abs(np.linalg.eigvals(W)))
    x = np.zeros((n, d))
    it = np.empty((n, n_steps, d))
    k = STEP_MS / tau_ms
    for t in range(n_steps):
        x = x + k * (-x + x @ W.T + u_ff[:, t] + gate[t] * c[cat_idx])
        it[:, t] = x
    it_ff = u_ff  # the feedforward drive alone (no recurrence, no category feedback)

    steps = np.floor(((starts + ends) / 2) / STEP_MS).astype(int)
    mu = np.concatenate([_rates(v4, n_v4, rng, gain_range, bin_ms / STEP_MS, steps),
                         _rates(it, n_it, rng, gain_range, bin_ms / STEP_MS, steps)], axis=1)
    region = np.array(["V4"] * n_v4 + ["IT"] * n_it)
    assembly, ceiling = _trials(mu, ids, obj, cat, region, starts, ends, n_reps, rng,
                                {"identifier": f"simulated-v4-it-seed{seed}", "source": "convrnn_tf.neural.simulate"})
    medians = {r: np.median(ceiling[region == r], axis=0) for r in ("V4", "IT")}
    latents = {"V4": v4.astype(np.float32), "IT": it.astype(np.float32), "IT_feedforward": it_ff.astype(np.float32)}
    return SimulatedRecording(assembly, ceiling, medians, latents, ids, mu, np.asarray(images),
                              dict(metadata))


def _rates(latent, q, rng, gain_range, scale=1.0, steps=None):
    """Mean counts [N, q, bins] of ``q`` neuroids reading ``latent`` [N, steps, d] (z-scored per dimension)
    at ``steps`` (default all): ``gain_j * softplus(2 latent . w_j + b_j)``."""
    d = latent.shape[-1]
    z = latent / (latent.reshape(-1, d).std(axis=0) + 1e-9)
    z = z if steps is None else z[:, steps]
    w = rng.normal(size=(d, q)) / np.sqrt(d)
    b = rng.normal(-0.5, 0.3, size=q)
    gain = np.exp(rng.uniform(*np.log(gain_range), size=q))
    rate = _softplus(2.0 * np.einsum("ntd,dq->nqt", z, w) + b[None, :, None])
    return gain[None, :, None] * rate * scale


def _trials(mu, ids, obj, cat, region, starts, ends, n_reps, rng, attrs):
    """Poisson trials of mean ``mu`` [N, neuroid, bin] as an assembly, and the true reliability of the
    ``n_reps``-trial average per neuroid and bin, ``var_i(mu) / (var_i(mu) + mean_i(mu) / R)``."""
    n = len(ids)
    counts = rng.poisson(np.broadcast_to(mu[:, None], (n, n_reps) + mu.shape[1:])).astype(np.float64)
    signal, noise = mu.var(axis=0), mu.mean(axis=0) / n_reps
    with np.errstate(invalid="ignore", divide="ignore"):
        ceiling = np.where(signal + noise > 0, signal / (signal + noise), 0.0)
    index = np.zeros(len(region), int)
    for r in dict.fromkeys(region):
        index[region == r] = np.arange((region == r).sum())
    neuroid_id = np.array([f"{r}_{i:03d}" for r, i in zip(region, index)])
    assembly = make_assembly(
        counts.reshape(n * n_reps, *mu.shape[1:]), np.repeat(ids, n_reps), neuroid_id, starts, ends,
        repetition=np.tile(np.arange(n_reps), n), object_name=np.repeat(obj, n_reps),
        category_name=np.repeat(cat, n_reps), region=region,
        attrs={**attrs, "noise": f"Poisson, {n_reps} repetitions", "units": "spike counts per bin"},
        source="simulated recording")
    return assembly, ceiling


def simulate_from_model(model, images, metadata, region_layers, *, n_neuroids=20, bins=(70.0, 260.0),
                        bin_ms=10.0, step_ms=10.0, offset_ms=0.0, n_reps=8, gain_range=(0.5, 4.0), seed=0,
                        batch_size=32):
    """A recording whose ground truth is a `ConvRNN` ("teacher"): each region's neuroids read the teacher's
    ``region_layers[region]`` features (flattened) at the step of each bin (step t stands for
    ``[offset_ms + t step_ms, offset_ms + (t + 1) step_ms)``) through fixed random weights, as in
    `simulate_recording` (softplus rates, Poisson trials, ``n_reps`` repetitions, known ceiling).
    latents are the teacher's features ``{region: [N, n_bins, D]}``.
    """
    from convrnn_tf import features as feats
    from convrnn_tf.neural.features import TimeMapping

    for key in ("object_name", "category_name"):
        if key not in metadata:
            raise ValueError(f"simulate_from_model: metadata lacks {key!r}")
    ids = np.asarray(metadata.get("stimulus_id", metadata.get("image_id", np.arange(len(images))))).astype(str)
    starts = np.arange(bins[0], bins[1] - 1e-9, bin_ms)
    ends = starts + bin_ms
    recipes = TimeMapping("one_to_one", step_ms, offset_ms).recipes(starts, ends, model.times)
    steps = sorted({t for r in recipes for t in r})
    layers = sorted(set(region_layers.values()))
    out = feats.extract(model, feats.as_source(np.asarray(images), ids=list(ids)), layers, batch_size=batch_size,
                        steps=steps)
    where = {t: i for i, t in enumerate(steps)}
    rng = np.random.default_rng([seed, 9])
    latents, mus, region = {}, [], []
    for r, layer in region_layers.items():
        x = np.asarray(out[layer], np.float64).reshape(len(ids), len(steps), -1)
        x = np.stack([x[:, [where[t] for t in rec]].mean(axis=1) for rec in recipes], axis=1)
        x = x - x.mean(axis=(0, 1))
        latents[r] = x.astype(np.float32)
        mus.append(_rates(x, n_neuroids, rng, gain_range, bin_ms / step_ms))
        region += [r] * n_neuroids
    mu, region = np.concatenate(mus, axis=1), np.array(region)
    obj = np.asarray(metadata["object_name"]).astype(str)
    cat = np.asarray(metadata["category_name"]).astype(str)
    assembly, ceiling = _trials(mu, ids, obj, cat, region, starts, ends, n_reps, rng,
                                {"identifier": f"simulated-from-model-seed{seed}", "source": "convrnn_tf.neural.simulate"})
    medians = {r: np.median(ceiling[region == r], axis=0) for r in region_layers}
    return SimulatedRecording(assembly, ceiling, medians, latents, ids, mu, np.asarray(images), dict(metadata))
