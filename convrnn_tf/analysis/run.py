"""Orchestration of the dynamics analyses behind ``bin/decode_dynamics`` (issue 7).

For every response source (a recorded region, or a model's features) :func:`decode_dynamics` runs

* cross-validated decoding over time (:func:`decode_over_time`) and its latency (:func:`decoding_latency`);
* per-image object solution times (:func:`ost_from_decoding`), control vs challenge OSTs
  (:func:`compare_groups`, the flag is any per-image column, default the embedded dataset's ``challenge``)
  and the latency difference of the two groups (:func:`latency_difference`);
* model-vs-neural OST correlation (:func:`ost_correlation`) when both kinds are present, over shared images;
* I1/I2 (and normalised) consistency of each source's late-time decoder probabilities with a
  Rajalingham-style trial table (``behavior``);

and writes ``results.json`` (summary), ``curves.csv`` (accuracy/d' over time), ``ost.csv`` (per-image
OSTs) and PNG plots into the output folder.

Inputs (:func:`load_responses`):

* ``.npz`` with ``responses`` ``[presentation, neuroid, time_bin]``, optional ``time_bins`` ``[T]`` (or
  ``[T, 2]``), optional ``region`` ``[neuroid]`` (one source per region) and any 1-D arrays of length
  ``presentation`` as metadata columns (``image_id``, ``category_name``, ``challenge``, ...);
* a NetCDF DataArray in the brainio layout (dims ``presentation``/``neuroid``/``time_bin``, presentation
  coordinates as metadata, ``time_bin_start``, an optional ``region`` neuroid coordinate);
* a model (a zoo name or a built ``ConvRNN``) run over stimuli with :func:`convrnn_tf.features.extract`,
  one time step per bin (:func:`model_responses`);
* simulated recordings on the embedded stimuli (:func:`simulate_embedded`, used by the quickstart).

Every failed check raises ``ValueError``/``FileNotFoundError`` with a one-line message.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time as _time

import numpy as np

from . import _arrays, behavior as _behavior
from .decoding import decode_over_time
from .latency import decoding_latency, latency_difference
from .ost import DEFAULT_CRITERION, compare_groups, ost_correlation, ost_from_decoding


@dataclasses.dataclass
class Source:
    """One set of time-resolved responses: ``responses [P, N, T]``, ``times [T]``, per-presentation table."""

    name: str
    responses: np.ndarray
    times: np.ndarray
    table: dict
    kind: str = "neural"  # "neural" or "model"


@dataclasses.dataclass
class Recording:
    """Response sources plus an optional trial table (what :func:`simulate_embedded` returns)."""

    sources: list
    behavior: dict | None = None


# ----------------------------------------------------------------------------------------------- loading
def _check_file(path, what):
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file {path!r} does not exist")


def _split_regions(name, x, times, table, regions, kind):
    if regions is None:
        return [Source(name, x, times, table, kind)]
    regions = np.asarray(regions).astype(str)
    if regions.shape != (x.shape[1],):
        raise ValueError(f"region must have one entry per neuroid ({x.shape[1]}); got shape {regions.shape}")
    return [Source(str(r), x[:, regions == r], times, table, kind) for r in dict.fromkeys(regions.tolist())]


def load_responses(path, name=None, kind="neural") -> list:
    """Sources from a ``.npz`` or NetCDF file (see the module docstring)."""
    _check_file(path, "responses")
    name = name or os.path.splitext(os.path.basename(path))[0]
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        if "responses" not in data:
            raise ValueError(f"{path}: no 'responses' array (arrays: {sorted(data)})")
        x, times = _arrays.as_responses(data["responses"], data.get("time_bins"))
        table = {k: v for k, v in data.items()
                 if k not in ("responses", "time_bins", "region") and v.ndim == 1 and len(v) == x.shape[0]}
        return _split_regions(name, x, times, table, data.get("region"), kind)
    if path.endswith((".nc", ".nc4", ".netcdf")):
        import xarray as xr

        try:
            arr = xr.open_dataarray(path)
        except ValueError as err:
            raise ValueError(f"{path}: cannot read a NetCDF DataArray ({str(err).splitlines()[0]})") from None
        arr = arr.load()
        x, times = _arrays.as_responses(arr)
        arr = arr.transpose(*_arrays.RESPONSE_DIMS)
        table = {}
        for k, c in arr.coords.items():
            if c.dims == ("presentation",) and k != "presentation":
                table[k] = np.asarray(c.values)
        regions = np.asarray(arr.coords["region"].values) if "region" in arr.coords and \
            arr.coords["region"].dims == ("neuroid",) else None
        return _split_regions(name, x, times, table, regions, kind)
    raise ValueError(f"responses file {path!r}: expected a .npz or a NetCDF (.nc) file")


def load_stimuli(stimuli="embedded", **embedded_kwargs):
    """``(images [N, H, W, 3], metadata dict)``: the embedded dataset, or a ``.npz`` with ``images`` and
    per-image metadata arrays."""
    if stimuli == "embedded":
        from convrnn_tf.data import embedded

        return embedded.load(**embedded_kwargs)
    _check_file(stimuli, "stimuli")
    with np.load(stimuli, allow_pickle=False) as z:
        if "images" not in z.files:
            raise ValueError(f"{stimuli}: no 'images' array (arrays: {sorted(z.files)})")
        images = z["images"]
        meta = {k: z[k] for k in z.files if k != "images" and z[k].ndim == 1 and len(z[k]) == len(images)}
    return images, meta


def model_responses(model, stimuli="embedded", layers=None, ms_per_step=1.0, max_features=2000,
                    batch_size=32, seed=0, embedded_kwargs=None) -> list:
    """One source per layer: the model's features ``[N, T, ...]`` flattened to ``[N, F, T]`` (a fixed
    random subset of at most ``max_features`` units), time step ``t`` at ``t * ms_per_step``."""
    from convrnn_tf import features

    if isinstance(model, str):
        from convrnn_tf import zoo

        name = model
        model = zoo.build(model)
    else:
        name = getattr(model, "name", "model")
    images, meta = load_stimuli(stimuli, **(embedded_kwargs or {}))
    ids = meta.get("image_id")
    feats = features.extract(model, images, layers, batch_size=batch_size,
                             ids=None if ids is None else [str(i) for i in ids])
    rng = np.random.default_rng(seed)
    out = []
    for layer, f in feats.items():
        f = np.asarray(f, np.float64).reshape(f.shape[0], f.shape[1], -1)
        if f.shape[2] > max_features:
            f = f[:, :, np.sort(rng.choice(f.shape[2], max_features, replace=False))]
        x = np.transpose(f, (0, 2, 1))
        out.append(Source(f"{name}:{layer}", x, np.arange(x.shape[2]) * float(ms_per_step), dict(meta), "model"))
    return out


def load_behavior(path) -> dict:
    """A trial table (columns stimulus_id/image_id, truth, distractor, choice) from ``.csv`` or ``.npz``."""
    if isinstance(path, dict):
        return path
    _check_file(path, "behavior")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if path.endswith(".csv"):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise ValueError(f"behavior file {path!r} has no trials")
        return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
    raise ValueError(f"behavior file {path!r}: expected a .csv or .npz trial table")


# -------------------------------------------------------------------------------------------- simulation
def simulate_embedded(seed=0, image_size=16, images_per_object=2, label="category_name", n_neurons=60,
                      onset=90.0, delay=30.0, jitter=5.0, bin_width=10.0, t_max=250.0, noise=1.0,
                      signal=1.5, model=True, model_lag=4.0, behavior=True, trials_per_pair=4) -> Recording:
    """Simulated IT recordings (and optionally a "model" sharing the per-image onsets, and human trials)
    on the embedded stimuli: challenge images (the metadata's ``challenge`` flag) become decodable
    ``delay`` ms later by construction (:func:`simulate_population`)."""
    from convrnn_tf.data import embedded

    from .example import latent_probabilities
    from .simulate import simulate_choices, simulate_population

    _, meta = embedded.load(seed=seed, image_size=image_size, images_per_object=images_per_object)
    classes, cls = np.unique(meta[label], return_inverse=True)
    order = np.argsort(cls, kind="stable")  # simulate_population lays images out class by class
    counts = np.bincount(cls)
    if np.any(counts != counts[0]):
        raise ValueError(f"simulate_embedded needs equally many images per {label}; got {counts.tolist()}")
    table = {k: np.asarray(v)[order] for k, v in meta.items()}
    times = np.arange(0.0, t_max, bin_width)
    common = dict(n_classes=len(classes), images_per_class=int(counts[0]), time_bins=times,
                  bin_width=bin_width, noise=noise, signal=signal, challenge=table["challenge"])
    it = simulate_population(n_neurons=n_neurons, onset=onset, delay=delay, jitter=jitter, seed=seed, **common)
    sources = [Source("IT (simulated)", it.responses, times, table, "neural")]
    if model:
        m = simulate_population(n_neurons=n_neurons, onsets=it.onsets + model_lag, seed=seed + 1, **common)
        sources.append(Source("model (simulated)", m.responses, times, table, "model"))
    trials = None
    if behavior:
        labels = np.unique(table[label], return_inverse=True)[1]
        p, _ = latent_probabilities(labels, len(classes), noise=0.0, seed=seed)
        t = simulate_choices(p, labels, trials_per_pair=trials_per_pair, seed=seed)
        trials = {"stimulus_id": table["image_id"][t["stimulus_id"]], "truth": classes[t["truth"]],
                  "distractor": classes[t["distractor"]], "choice": classes[t["choice"]]}
    return Recording(sources=sources, behavior=trials)


# ------------------------------------------------------------------------------------------------ running
def _parse_bins(time_bins):
    if time_bins is None or (isinstance(time_bins, str) and not time_bins.strip()):
        return None
    if isinstance(time_bins, str):
        if time_bins.lower() in ("kar2019", "kar"):
            return _arrays.KAR2019_TIME_BINS
        if ":" in time_bins:  # start:stop:step
            a, b, s = (float(v) for v in time_bins.split(":"))
            return np.arange(a, b, s)
        try:
            return np.asarray([float(v) for v in time_bins.split(",")])
        except ValueError:
            raise ValueError(f"time_bins {time_bins!r}: give 'kar2019', 'start:stop:step' or a comma list")
    return np.asarray(time_bins, float)


def _column(src, name, role):
    if name not in src.table:
        raise ValueError(f"{role} column {name!r} not found in the metadata of {src.name!r} "
                         f"(columns: {sorted(src.table)})")
    return np.asarray(src.table[name])


def _flag(src, flag, positive):
    values = _column(src, flag, "flag")
    if values.dtype == bool:
        return values
    if values.dtype.kind in "US" and isinstance(positive, bool):  # "True"/"challenge"-style strings
        low = np.char.lower(values.astype(str))
        return np.isin(low, ["true", "1", "yes"]) if positive else ~np.isin(low, ["true", "1", "yes"])
    if values.dtype.kind in "iuf" and isinstance(positive, bool):
        return (values != 0) == positive
    return values.astype(str) == str(positive)


def _nan(v):
    v = float(v)
    return None if not np.isfinite(v) else round(v, 4)


def decode_dynamics(responses=None, output=None, behavior=None, model=None, stimuli="embedded", layers=None,
                    ms_per_step=1.0, label="category_name", stimulus_id="image_id", flag="challenge",
                    flag_positive=True, flag_names=("control", "challenge"), time_bins=None,
                    ost_time_bins="auto", n_splits=5, n_repeats=1, decoder="logistic", C=0.1, window=1,
                    criterion=DEFAULT_CRITERION, latency_k=3.0, n_boot=500, consistency_niter=5,
                    consistency_bins=3, plots=True, seed=0) -> dict:
    """Run every analysis and write the results into ``output``; returns the summary dict.

    ``responses``: a file path, a list of :class:`Source`, or a :class:`Recording`; ``model``: a zoo name or
    a built model run over ``stimuli`` (both may be given: neural vs model OSTs are then compared).
    ``label``: the decoded class column; ``flag``: the image-level column splitting control/challenge
    (``None``: no split). ``time_bins``: bin times to keep ('kar2019', 'a:b:step', a list; missing bins
    raise). ``ost_time_bins``: 'auto' = Kar 2019's 70-250 ms bins when all present, else all bins.
    ``consistency_bins``: the decoder probabilities of the last that many bins (averaged) give the
    I1/I2 of each source.
    """
    if output is None:
        raise ValueError("no output folder given (--output)")
    t_start = _time.time()
    sources = []
    if isinstance(responses, Recording):
        sources += list(responses.sources)
        behavior = responses.behavior if behavior is None else behavior
    elif isinstance(responses, (list, tuple)):
        sources += list(responses)
    elif responses is not None:
        sources += load_responses(str(responses))
    if isinstance(behavior, str):
        behavior = load_behavior(behavior)
    if model is not None:
        sources += model_responses(model, stimuli, layers, ms_per_step, seed=seed)
    if not sources:
        raise ValueError("nothing to analyse: give --responses and/or --model")
    select = _parse_bins(time_bins)
    os.makedirs(output, exist_ok=True)

    results, summary = {}, {"sources": {}, "config": {
        "label": label, "flag": flag, "n_splits": n_splits, "decoder": decoder, "C": C,
        "criterion": criterion, "seed": seed}}
    for src in sources:
        y = _column(src, label, "label")
        stim = np.asarray(src.table[stimulus_id]).astype(str) if stimulus_id in src.table else \
            np.asarray([f"p{i}" for i in range(len(y))])
        fl = None if flag is None else _flag(src, flag, flag_positive)
        res = decode_over_time(src.responses, y, src.times, stimulus_ids=stim, n_splits=n_splits,
                               n_repeats=n_repeats, decoder=decoder, C=C, window=window, select=select,
                               seed=seed)
        lat = decoding_latency(res, k=latency_k, n_boot=n_boot, seed=seed)
        ost_sel = ost_time_bins
        if isinstance(ost_sel, str) and ost_sel == "auto":
            ost_sel = _arrays.KAR2019_TIME_BINS if np.all(
                [np.isclose(res.times, t).any() for t in _arrays.KAR2019_TIME_BINS]) else None
        else:
            ost_sel = _parse_bins(ost_sel)
        ost = ost_from_decoding(res, criterion=criterion, select=ost_sel)  # [R, S]
        ids, first, _ = res.stimuli()
        entry = {"kind": src.kind, "n_presentations": int(len(y)), "n_neuroids": int(src.responses.shape[1]),
                 "n_classes": int(len(res.classes)), "chance": res.chance,
                 "peak_accuracy": _nan(np.max(res.accuracy)),
                 "peak_time": _nan(res.times[int(np.argmax(res.accuracy))]),
                 "latency": _nan(lat.latency), "latency_ci": [_nan(c) for c in lat.ci],
                 "shuffled_mean_accuracy": _nan(np.mean(res.shuffled.accuracy)),
                 "ost_solved_fraction": _nan(np.mean(np.isfinite(ost).any(0)))}
        out = {"result": res, "latency": lat, "ost": ost, "ids": ids, "first": first, "flag": fl}
        if fl is not None:
            flag_img = fl[first]
            grp = compare_groups(ost, flag_img, names=tuple(flag_names), n_boot=n_boot, seed=seed)
            ld = latency_difference(res, ~fl, fl, k=latency_k, n_boot=n_boot, seed=seed)
            out["groups"] = grp
            entry["groups"] = {
                "names": list(grp.names), "median_ost": [_nan(m) for m in grp.medians],
                "n_solved": [int(n) for n in grp.n_solved], "n_images": [int(n) for n in grp.n_images],
                "ost_difference": _nan(grp.difference), "ost_difference_ci": [_nan(c) for c in grp.ci],
                "latency": [_nan(ld.a.latency), _nan(ld.b.latency)],
                "latency_difference": _nan(ld.difference), "latency_difference_ci": [_nan(c) for c in ld.ci]}
        if behavior is not None:
            k = max(1, min(int(consistency_bins), len(res.times)))
            p = res.probabilities[:, first, -k:, :].astype(float).mean(axis=(0, 2))
            beh = _behavior.from_probabilities(p, res.labels[first], images=ids, classes=res.classes)
            cons = {m: _behavior.consistency(beh, behavior, metric=m, niter=consistency_niter, seed=seed)
                    for m in _behavior.METRICS}
            out["consistency"] = cons
            entry["consistency"] = {m: {"rho_n": _nan(c.value), "std": _nan(c.std),
                                        "rho": _nan(np.nanmean(c.rho)) if np.isfinite(c.rho).any() else None}
                                    for m, c in cons.items()}
        results[src.name] = out
        summary["sources"][src.name] = entry

    neural = [n for n, s in zip(results, sources) if s.kind == "neural"]
    models = [n for n, s in zip(results, sources) if s.kind == "model"]
    pairs = []
    if neural and models:
        ref = neural[0]
        for m in models:
            a, b = results[m], results[ref]
            shared, ia, ib = np.intersect1d(a["ids"], b["ids"], return_indices=True)
            if shared.size < 3:
                continue
            corr = ost_correlation(a["ost"][:, ia], b["ost"][:, ib], folds=b["result"].fold[:, b["first"][ib]])
            pairs.append((m, ref, ia, ib, corr))
            summary.setdefault("ost_correlation", {})[f"{m} vs {ref}"] = {
                "spearman_mean": _nan(corr.mean), "sem": _nan(corr.sem), "n_images": int(shared.size)}
    if behavior is not None:
        ceiling = {m: _nan(np.nanmean(_behavior.split_half_reliability(behavior, m, niter=consistency_niter,
                                                                         seed=seed)))
                   for m in _behavior.METRICS}
        summary["behavior_split_half"] = ceiling

    files = write_results(output, results, summary)
    if plots:
        files += write_plots(output, results, pairs, summary)
    summary["files"] = files
    summary["seconds"] = round(_time.time() - t_start, 1)
    with open(os.path.join(output, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def write_results(output, results, summary) -> list:
    """``curves.csv`` and ``ost.csv`` (``results.json`` is written by :func:`decode_dynamics`)."""
    curves = os.path.join(output, "curves.csv")
    with open(curves, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "time", "accuracy", "accuracy_sem", "dprime", "shuffled_accuracy", "threshold"])
        for name, o in results.items():
            r, lat = o["result"], o["latency"]
            for t, a, s, d, sh, th in zip(r.times, r.accuracy, r.sem(), r.dprime, r.shuffled.accuracy,
                                          lat.threshold):
                w.writerow([name, f"{t:g}", f"{a:.5f}", f"{s:.5f}", f"{d:.5f}", f"{sh:.5f}", f"{th:.5f}"])
    osts = os.path.join(output, "ost.csv")
    with open(osts, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "stimulus_id", "label", "flag", "ost"])
        for name, o in results.items():
            r = o["result"]
            with np.errstate(invalid="ignore"):
                cnt = np.isfinite(o["ost"]).sum(0)
                mean = np.where(cnt > 0, np.nansum(o["ost"], 0) / np.maximum(cnt, 1), np.nan)
            for k, (sid, p) in enumerate(zip(o["ids"], o["first"])):
                fl = "" if o["flag"] is None else int(o["flag"][p])
                w.writerow([name, sid, r.classes[r.labels[p]], fl, "" if not np.isfinite(mean[k]) else
                            f"{mean[k]:.3f}"])
    return [curves, osts]


def write_plots(output, results, pairs, summary) -> list:
    from . import plots

    paths = [plots.plot_decoding_over_time({n: o["result"] for n, o in results.items()},
                                           os.path.join(output, "accuracy.png"),
                                           latencies={n: o["latency"] for n, o in results.items()})]
    for m, ref, ia, ib, corr in pairs:
        flag = None if results[ref]["flag"] is None else results[ref]["flag"][results[ref]["first"][ib]]
        safe = "".join(c if c.isalnum() else "_" for c in m).strip("_")
        paths.append(plots.plot_ost_scatter(results[m]["ost"][:, ia], results[ref]["ost"][:, ib],
                                            os.path.join(output, f"ost_scatter_{safe}.png"), flag=flag,
                                            rho=corr, model_name=m))
    groups = {n: o["groups"] for n, o in results.items() if "groups" in o}
    if groups:
        paths.append(plots.plot_ost_groups(groups, os.path.join(output, "ost_groups.png")))
    cons = {n: o["consistency"] for n, o in results.items() if "consistency" in o}
    if cons:
        paths.append(plots.plot_consistency_bars(cons, os.path.join(output, "consistency.png"),
                                                 ceiling=summary.get("behavior_split_half"),
                                                 ceiling_label="behaviour split-half r"))
    return [str(p) for p in paths]


def format_summary(summary) -> str:
    """A one-screen text summary of :func:`decode_dynamics`'s result."""
    def f(v, fmt="{:.0f}"):
        return "n/a" if v is None else fmt.format(v)

    lines = [f"decode_dynamics: {len(summary['sources'])} source(s), label={summary['config']['label']!r}, "
             f"flag={summary['config']['flag']!r}"]
    for name, e in summary["sources"].items():
        ci = e["latency_ci"]
        lines.append(f"  {name} [{e['kind']}; {e['n_presentations']} presentations x {e['n_neuroids']} "
                     f"neuroids, {e['n_classes']} classes]")
        lines.append(f"    peak accuracy {f(e['peak_accuracy'], '{:.3f}')} at {f(e['peak_time'], '{:g}')} "
                     f"(chance {e['chance']:.3f}, shuffled {f(e['shuffled_mean_accuracy'], '{:.3f}')}); "
                     f"latency {f(e['latency'], '{:.1f}')} [{f(ci[0], '{:.1f}')}, {f(ci[1], '{:.1f}')}]")
        g = e.get("groups")
        if g:
            lines.append(f"    OST median {g['names'][0]} {f(g['median_ost'][0], '{:.1f}')} "
                         f"({g['n_solved'][0]}/{g['n_images'][0]} solved), {g['names'][1]} "
                         f"{f(g['median_ost'][1], '{:.1f}')} ({g['n_solved'][1]}/{g['n_images'][1]}); "
                         f"difference {f(g['ost_difference'], '{:.1f}')} "
                         f"[{f(g['ost_difference_ci'][0], '{:.1f}')}, {f(g['ost_difference_ci'][1], '{:.1f}')}]; "
                         f"latency difference {f(g['latency_difference'], '{:.1f}')}")
        c = e.get("consistency")
        if c:
            lines.append("    consistency " + ", ".join(f"{m} {f(v['rho_n'], '{:.2f}')}" for m, v in c.items()))
    for pair, v in summary.get("ost_correlation", {}).items():
        lines.append(f"  OST Spearman {pair}: {f(v['spearman_mean'], '{:.2f}')} +- {f(v['sem'], '{:.2f}')} "
                     f"({v['n_images']} images)")
    if "behavior_split_half" in summary:
        lines.append("  behaviour split-half r: " + ", ".join(
            f"{m} {f(v, '{:.2f}')}" for m, v in summary["behavior_split_half"].items()))
    lines.append("  wrote: " + ", ".join(os.path.basename(p) for p in summary.get("files", [])))
    return "\n".join(lines)
