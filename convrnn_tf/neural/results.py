"""Fit results as an ``xarray.Dataset`` and CSV export; the conventions are named in ``attrs``.

Dims: ``split`` (image splits), ``neuroid``, ``time_bin`` (coords ``time_bin_start``, ``time_bin_end``,
``time_bin_kind`` = "bin" or "window"), ``ceiling_split``, ``neuron_fold``. Variables:

- ``r`` (split, neuroid, time_bin): Pearson r on the test stimuli;
- ``score_per_split`` (split, time_bin) = median over neuroids; ``score`` = its mean over splits;
  ``score_sem`` = std over splits (ddof=0) / sqrt(n_splits)  (Brain-Score's aggregation);
- ``ceiling_per_neuroid`` (neuroid, time_bin), ``ceiling_per_split`` (ceiling_split, time_bin),
  ``ceiling`` (time_bin): split-half internal consistency, Spearman-Brown corrected
  (:mod:`convrnn_tf.neural.ceiling`);
- ``ceiled_r_over_c``, ``ceiled_r_over_c_squared``, ``ceiled_r2_over_c`` (time_bin): ``score`` ceiled
  under each convention; ``ceiled`` and ``ceiled_sem`` (time_bin): under the convention in
  ``attrs["ceiling_convention"]`` (sem over splits of the per-split ceiled score);
- with mapping consistency: ``internal_consistency``, ``mapping_consistency``, ``ev_mapping_corrected``
  (split, neuroid, time_bin) and ``score_mapping_corrected`` (time_bin) = median over neuroids of the mean
  over splits of EV = r^2 / (internal * mapping);
- with held-out neurons: ``chosen`` (split, neuron_fold, time_bin), the selected hyperparameter, and
  the ``neuron_fold`` coordinate along ``neuroid``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from convrnn_tf.neural.assembly import _xr
from convrnn_tf.neural.ceiling import CONVENTIONS, ceil_score


def _nan(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def build(dense, r, ceil, mc, chosen, folds, info, extra_attrs=None):
    """Assemble the Dataset from the arrays computed in :func:`convrnn_tf.neural.fit.fit_neural`."""
    xr = _xr()
    S, Q, T = r.shape
    per_split = _nan(np.nanmedian, r, axis=1)
    score = per_split.mean(axis=0)
    sem = per_split.std(axis=0) / np.sqrt(S)
    kind = np.array(["bin"] * info["n_bins"] + ["window"] * (T - info["n_bins"]))
    coords = {"split": np.arange(S), "time_bin_start": ("time_bin", dense.time_bin_start),
              "time_bin_end": ("time_bin", dense.time_bin_end), "time_bin_kind": ("time_bin", kind)}
    coords.update({k: ("neuroid", np.asarray(v)) for k, v in dense.neuroid_coords.items()})
    data = {"r": (("split", "neuroid", "time_bin"), r),
            "score_per_split": (("split", "time_bin"), per_split),
            "score": (("time_bin",), score), "score_sem": (("time_bin",), sem)}
    conv = info["ceiling_convention"]
    if conv not in CONVENTIONS:
        raise ValueError(f"unknown ceiling convention {conv!r}; choose one of {list(CONVENTIONS)}")
    if ceil is not None:
        c = ceil["ceiling"]
        data["ceiling_per_neuroid"] = (("neuroid", "time_bin"), ceil["per_neuroid"])
        data["ceiling_per_split"] = (("ceiling_split", "time_bin"), ceil["per_split"])
        data["ceiling"] = (("time_bin",), c)
        for name, (var, _) in CONVENTIONS.items():
            data[var] = (("time_bin",), ceil_score(score, c, name))
        ceiled_splits = ceil_score(per_split, c[None], conv)
        data["ceiled"] = (("time_bin",), ceil_score(score, c, conv))
        data["ceiled_sem"] = (("time_bin",), ceiled_splits.std(axis=0) / np.sqrt(S))
    if mc is not None:
        for key, var in (("internal", "internal_consistency"), ("mapping", "mapping_consistency"),
                         ("ev", "ev_mapping_corrected")):
            data[var] = (("split", "neuroid", "time_bin"), mc[key])
        data["score_mapping_corrected"] = (("time_bin",),
                                           _nan(np.nanmedian, _nan(np.nanmean, mc["ev"], axis=0), axis=0))
    if chosen is not None:
        data["chosen"] = (("split", "neuron_fold", "time_bin"), chosen)
        fold_of = np.empty(Q, dtype=int)
        for f, idx in enumerate(folds):
            fold_of[idx] = f
        coords["neuron_fold"] = ("neuroid", fold_of)
    m = info["mapping"]
    attrs = {
        "regression": (f"PLSRegression(n_components={info['n_components']}, scale=False), kernel NIPALS "
                       "equal to scikit-learn" if info["regression"] == "pls"
                       else f"Ridge(alpha={info['alpha']}, fit_intercept=True), kernel form"),
        "correlation": "Pearson r per neuroid over test stimuli (repetition-averaged responses)",
        "aggregation": "median over neuroids per split; mean over splits; sem = std(ddof=0)/sqrt(n_splits)",
        "splits": (f"{info['split_kind']}: {info['n_splits']} splits, train_size={info['train_size']}, "
                   f"random_state={info['random_state']}"),
        "time_mapping": f"{m.kind} (step_ms={m.step_ms}, offset_ms={m.offset_ms}, step={m.step})",
        "pca": "none" if info["pca"] is None else f"{info['pca']} components fit on the assembly's stimuli",
        "ceiling_convention": conv,
        "ceiling_conventions": "r/c -> ceiled_r_over_c; (r/c)^2 -> ceiled_r_over_c_squared; "
                               "r^2/c -> ceiled_r2_over_c",
    }
    if ceil is not None:
        attrs["ceiling_method"] = (
            f"split-half over repetitions ({info['ceiling_splits']} splits, "
            f"{'per-stimulus' if info['per_stimulus_halves'] else 'global'} halves, random_state="
            f"{info['random_state']}), Spearman-Brown 2r/(1+r); median over neuroids, mean over splits")
    if mc is not None:
        attrs["mapping_consistency_method"] = (
            f"{info['mapping_halves']} repetition split-halves; EV = r^2/(internal_cons*mapping_cons) "
            "per neuroid (Spearman-Brown corrected), mean over halves and splits, median over neuroids")
    if info.get("hyper") is not None:
        attrs["neuron_cv"] = (f"{len(folds)} neuron folds; grid {list(info['hyper'])} chosen by the median r "
                              "of the other folds' neuroids per split and bin")
    attrs.update(extra_attrs or {})
    return xr.Dataset(data, coords=coords, attrs=attrs)


def summary_table(ds):
    """A pandas DataFrame with one row per time bin of every (time_bin,)-only variable and coordinate."""
    import pandas as pd

    columns = {c: ds[c].values for c in ("time_bin_start", "time_bin_end", "time_bin_kind")}
    columns.update({v: ds[v].values for v in ds.data_vars if ds[v].dims == ("time_bin",)})
    frame = pd.DataFrame(columns)
    for key in ("region", "layer", "model"):
        if key in ds.attrs:
            frame.insert(0, key, ds.attrs[key])
    return frame


def results_to_csv(ds, path, per_neuroid=False):
    """Write ``summary_table`` (or, with ``per_neuroid``, r and the ceiling per neuroid and bin, averaged
    over splits) to CSV, preceded by ``# key: value`` lines for the conventions (``read_csv(comment='#')``)."""
    if per_neuroid:
        frame = ds["r"].mean("split").rename("r_mean_over_splits").to_dataframe().reset_index()
        if "ceiling_per_neuroid" in ds:
            frame["ceiling"] = ds["ceiling_per_neuroid"].transpose("neuroid", "time_bin").values.ravel()
    else:
        frame = summary_table(ds)
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        for key, value in ds.attrs.items():
            f.write(f"# {key}: {value}\n")
        frame.to_csv(f, index=False)
    return path
