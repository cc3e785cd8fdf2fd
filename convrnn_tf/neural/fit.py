"""Fit model features to neural recordings per time bin and score them (Brain-Score conventions).

For every image split (train/test stimulus indices), time bin and neuroid::

    Y_hat_test = f(X_train -> Y_train)(X_test)   f = PLSRegression(25, scale=False) or ridge
    r[split, neuroid, bin] = Pearson(Y_hat_test[:, neuroid], Y_test[:, neuroid])   (over test stimuli)
    score_per_split[split, bin] = median over neuroids of r
    score[bin] = mean over splits,   score_sem[bin] = std over splits (ddof=0) / sqrt(n_splits)

Y is the repetition average per stimulus; X the model features of the bin's time-step recipe
(:class:`~convrnn_tf.neural.features.TimeMapping`). The regressions run on Gram matrices shared by all
splits and by bins with the same features (:mod:`convrnn_tf.neural.pls`), batched over bins; their PLS
predictions equal scikit-learn's ``PLSRegression`` to floating-point round-off.

Held-out neurons (``neuron_folds=F``, ``grid=[...]``): neuroids are split into F folds; for each fold, the
hyperparameter (PLS component count or ridge alpha) with the best median r over the *other* neuroids is
chosen per split and bin, and the fold's neuroids are fit and scored with it.
"""

from __future__ import annotations

import warnings

import numpy as np

from convrnn_tf.neural import results
from convrnn_tf.neural.assembly import (NeuralDataError, _xr, complete_mean, match_stimuli, time_average,
                                        to_dense, validate_assembly)
from convrnn_tf.neural.ceiling import CONVENTIONS, half_means, masked_pearson, spearman_brown, split_half_consistency
from convrnn_tf.neural.features import TimeMapping, compute_grams, feature_ids, layout
from convrnn_tf.neural.pls import center_gram, kernel_pls, kernel_ridge, pearson_columns
from convrnn_tf.neural.splits import image_splits, neuron_folds as make_neuron_folds, repetition_halves


def predict(K_tr, K_te, Y_tr, gram_index, regression="pls", values=(25,)):
    """Test predictions (B, len(values), m, q) for PLS component counts or ridge alphas ``values``."""
    if regression == "pls":
        top = int(max(values))
        return kernel_pls(K_tr, K_te, Y_tr, gram_index, n_components=top, components=values)[0]
    if regression == "ridge":
        return kernel_ridge(K_tr, K_te, Y_tr, gram_index, alphas=values)
    raise ValueError(f"unknown regression {regression!r} (pls, ridge)")


def _median(x, axis):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(x, axis=axis)


def fit_neural(features, assembly, *, stimulus_ids=None, temporal=None, time_mapping=None,
               regression="pls", n_components=25, alpha=1.0, splits="stratified", n_splits=10,
               train_size=0.75, random_state=0, ceiling=True, ceiling_splits=10, ceiling_convention="r^2/c",
               per_stimulus_halves=False, mapping_consistency=False, mapping_halves=10, neuron_folds=None,
               grid=None, windows=None, pca=None, region=None, source="neural data",
               chunk_bytes=64 << 20, max_gram_bytes=1 << 30, attrs=None):
    """Score ``features`` against ``assembly`` per time bin; returns an ``xarray.Dataset`` (see
    :mod:`convrnn_tf.neural.results` for its variables and the conventions recorded in ``attrs``).

    features: array-like (stimulus, [time_step,] feature...) or DataArray (:mod:`.features`), ids from
    ``stimulus_ids`` or its ``stimulus_id`` coordinate; assembly: trials (or averages) in the layout of
    :mod:`.assembly`; splits: a kind in ``SPLIT_KINDS`` or an explicit list of (train, test) index
    arrays over the assembly's stimuli (order of first appearance); windows: extra (start, end) ms
    windows averaged over bins (neural) and steps (model) and scored like bins; pca: rank of a PCA of the
    features fitted on the assembly's stimuli; mapping_consistency: add the Nayebi-era correction;
    region: keep only neuroids whose ``region`` coordinate equals it; attrs: extra Dataset attributes
    (e.g. ``{"model": ..., "layer": ...}``, shown in the CSV summary).
    """
    if ceiling_convention not in CONVENTIONS:
        raise ValueError(f"unknown ceiling convention {ceiling_convention!r}; choose one of {list(CONVENTIONS)}")
    if regression not in ("pls", "ridge"):
        raise ValueError(f"unknown regression {regression!r} (pls, ridge)")
    need = ("object_name",) if isinstance(splits, str) and splits != "shuffle" else ()
    a = validate_assembly(assembly, source=source, allow_nan=True, need=need + (("region",) if region else ()))
    if region is not None:
        keep = a["region"].values.astype(str) == str(region)
        if not keep.any():
            raise NeuralDataError(f"{source}: no neuroid has region {region!r} (coordinate 'region' holds "
                                  f"{sorted(set(a['region'].values.astype(str).tolist()))})")
        a = a.isel(neuroid=np.flatnonzero(keep))
        attrs = {"region": str(region), **(attrs or {})}
    n_bins_orig = a.sizes["time_bin"]
    if windows:
        a = _xr().concat([a, time_average(a, windows, source=source)], dim="time_bin")
    dense = to_dense(a, source=source, allow_nan=True)
    Y = complete_mean(dense, source)
    if (ceiling or mapping_consistency) and dense.valid.sum(axis=1).min() < 2:
        raise NeuralDataError(
            f"{source}: a noise ceiling needs >= 2 repetitions per stimulus (coordinate 'repetition'); "
            f"{int((dense.valid.sum(axis=1) < 2).sum())} stimuli have fewer (ceiling=False and "
            "mapping_consistency=False fit repetition-averaged data)")
    values, n_steps = layout(features, temporal)
    rows = match_stimuli(feature_ids(features, stimulus_ids), dense.stimulus_id, source="features")
    mapping = time_mapping or (TimeMapping() if n_steps else TimeMapping("same"))
    recipes = mapping.recipes(dense.time_bin_start, dense.time_bin_end, n_steps)
    unique = list(dict.fromkeys(recipes))
    bin_gram = np.array([unique.index(r) for r in recipes])

    N, Q, T = Y.shape
    if isinstance(splits, str):
        split_list = image_splits(N, splits, n_splits, train_size, random_state,
                                  dense.stimulus_coords.get("object_name"),
                                  dense.stimulus_coords.get("category_name"))
        split_kind = splits
    else:
        split_list, split_kind = [(np.asarray(tr), np.asarray(te)) for tr, te in splits], "explicit"
    n_train = min(len(tr) for tr, _ in split_list)
    n_feat = int(np.prod(values.shape[2:] if n_steps else values.shape[1:]))
    max_rank = min(n_train - 1, n_feat if pca is None else min(n_feat, int(pca)))
    if regression == "pls":
        default = min(int(n_components), max_rank)
        hyper = [min(int(k), max_rank) for k in grid] if grid is not None else [default]
        hyper = sorted(set(hyper))
    else:
        default = float(alpha)
        hyper = [float(x) for x in grid] if grid is not None else [default]
    if grid is not None and neuron_folds is None:
        raise ValueError("a hyperparameter grid needs neuron_folds (cross-neuron validation)")
    folds = make_neuron_folds(Q, neuron_folds, random_state) if neuron_folds else None

    S = len(split_list)
    r = np.full((S, Q, T), np.nan)
    chosen = np.full((S, len(folds) if folds else 1, T), np.nan)
    mc_out = {k: np.full((S, Q, T), np.nan) for k in ("internal", "mapping", "ev")} if mapping_consistency \
        else None
    if mapping_consistency:
        mc_masks = repetition_halves(dense.valid, mapping_halves, random_state, per_stimulus_halves)
        mc_halves = np.stack([half_means(dense, mc_masks[h]) for h in range(mapping_halves)])
        if np.isnan(mc_halves).any():
            raise NeuralDataError(f"{source}: some stimulus has no trial in a repetition half (coordinate "
                                  "'repetition'); use per_stimulus_halves=True")
    per_group = max(1, int(max_gram_bytes // (8 * N * N)))
    for g0 in range(0, len(unique), per_group):
        group = list(range(g0, min(len(unique), g0 + per_group)))
        grams = compute_grams(values, rows, [unique[i] for i in group], n_steps, chunk_bytes, pca)
        bins = np.flatnonzero(np.isin(bin_gram, group))
        gidx = bin_gram[bins] - g0
        for s, (tr, te) in enumerate(split_list):
            K_tr, K_te = center_gram(grams, tr, te)
            Ytr = np.moveaxis(Y[tr][:, :, bins], -1, 0)
            Yte = np.moveaxis(Y[te][:, :, bins], -1, 0)
            if folds is None:
                pred = predict(K_tr, K_te, Ytr, gidx, regression, hyper)
                r[s][:, bins] = pearson_columns(pred[:, 0], Yte).T
            else:
                for f, fold in enumerate(folds):
                    rest = np.setdiff1d(np.arange(Q), fold)
                    r_sel = pearson_columns(predict(K_tr, K_te, Ytr[..., rest], gidx, regression, hyper),
                                            Yte[:, None, :, rest])
                    best = np.argmax(np.nan_to_num(_median(r_sel, -1), nan=-np.inf), axis=1)
                    r_f = pearson_columns(predict(K_tr, K_te, Ytr[..., fold], gidx, regression, hyper),
                                          Yte[:, None, :, fold])
                    r[s][np.ix_(fold, bins)] = r_f[np.arange(len(bins)), best].T
                    chosen[s, f, bins] = np.asarray(hyper)[best]
            if mapping_consistency:
                _mapping_consistency(mc_out, s, bins, r[s][:, bins], mc_halves, tr, te, K_tr, K_te, gidx,
                                     regression, default)
    ceil = split_half_consistency(dense, ceiling_splits, random_state, per_stimulus_halves, source) \
        if ceiling else None
    info = dict(regression=regression, n_components=default if regression == "pls" else None,
                alpha=default if regression == "ridge" else None, split_kind=split_kind, n_splits=S,
                train_size=train_size, random_state=random_state, ceiling_splits=ceiling_splits,
                ceiling_convention=ceiling_convention, per_stimulus_halves=per_stimulus_halves,
                mapping_halves=mapping_halves if mapping_consistency else 0, pca=pca, mapping=mapping,
                hyper=hyper if folds else None, n_bins=n_bins_orig)
    return results.build(dense, r, ceil, mc_out, chosen if folds else None, folds, info, attrs)


def _mapping_consistency(out, s, bins, r_fit, halves, tr, te, K_tr, K_te, gidx, regression, value):
    """Fill out[...][s, :, bins]: internal and mapping consistency (Spearman-Brown) and
    EV = r_fit^2 / (internal * mapping), each averaged over the repetition split-halves."""
    H = halves.shape[0]
    sub = halves[..., bins]  # (H, 2, N, Q, B)
    y_tr = np.moveaxis(sub[:, :, tr], -1, 2).reshape((H * 2 * len(bins),) + (len(tr), sub.shape[3]))
    pred = predict(K_tr, K_te, y_tr, np.tile(gidx, H * 2), regression, [value])[:, 0]
    pred = pred.reshape((H, 2, len(bins)) + pred.shape[1:])  # (H, 2, B, m, Q)
    mapping = spearman_brown(pearson_columns(pred[:, 0], pred[:, 1]))  # (H, B, Q)
    y_te = np.moveaxis(sub[:, :, te], -1, 2)  # (H, 2, B, m, Q)
    internal = spearman_brown(masked_pearson(y_te[:, 0], y_te[:, 1], axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = r_fit.T[None] ** 2 / (internal * mapping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["internal"][s][:, bins] = np.nanmean(internal, axis=0).T
        out["mapping"][s][:, bins] = np.nanmean(mapping, axis=0).T
        out["ev"][s][:, bins] = np.nanmean(ev, axis=0).T
