"""Fit features to recordings for every layer and region, and write results, table and plots.

The body of ``bin/fit_neural`` (see `convrnn_tf.cli.fit_neural` for the command line), usable
without flags: `run_fit(features=..., neural=..., output=...)`. Feature sources, fitted in this order:

* each ``features`` entry: ``"simulated"`` (the simulated recording's ground-truth latents), a features
  file from ``bin/extract_features`` (`read_features`), or a zoo model name (``zoo.build`` with the
  original's "neural" presentation: 26 steps, image off at step 10; checkpoint ``checkpoint``);
* each ``models`` entry ``{display name: ConvRNN, or a zero-argument callable returning one}`` (gin:
  ``@build_model()`` or ``@build_model``), restored from ``checkpoints[name]`` when given.

Models (zoo names and ``models``) are run on the recording's images as they go (`model_features`):
the simulated recording's images for ``neural="simulated"`` or ``stimuli="embedded"``, else
``stimuli`` (`convrnn_tf.features.open_images`: a folder, an image, ``.npy``/``.npz``), whose ids must be
the recording's stimulus ids (image file extensions are dropped when that makes them match). Model step
t stands for [offset_ms + t step_ms, offset_ms + (t + 1) step_ms) (``TimeMapping("one_to_one")``), so a
model must unroll enough steps to reach the last time bin; models, their layers and time steps are
checked before anything is fitted.
"""

from __future__ import annotations

import contextlib
import math
import os
import time


def _split(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    out = [str(v).strip() for v in value if str(v).strip()]
    return out or None


def read_features(path):
    """``({layer: array [N, T, ...]}, stimulus_ids, first_time_step)`` from an ``.npz`` or NetCDF file."""
    import numpy as np

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"features file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "stimulus_id" not in z:
                raise ValueError(f"{path}: no 'stimulus_id' array (expected the layout of bin/extract_features)")
            ids = z["stimulus_id"].astype(str)
            step0 = int(z["time_step"][0]) if "time_step" in z and len(z["time_step"]) else 0
            layers = {k: z[k] for k in z.files if k not in ("stimulus_id", "time_step")}
    elif ext in (".nc", ".nc4", ".netcdf", ".h5"):
        import h5netcdf
        import xarray as xr

        with h5netcdf.File(path, "r") as f:
            names = list(f.groups)
        if not names:
            raise ValueError(f"{path}: no layer groups (expected the NetCDF layout of bin/extract_features)")
        layers, ids, step0 = {}, None, 0
        for name in names:
            da = xr.open_dataarray(path, group=name, engine="h5netcdf").load()
            ids = da["stimulus_id"].values.astype(str)
            if "time_bin" in da.coords:
                step0 = int(np.asarray(da["time_bin"].values)[0])
            layers[name] = np.asarray(da.transpose("presentation", "time_bin", "neuroid").values)
    else:
        raise ValueError(f"features file {path!r}: expected .npz or .nc")
    for k, v in layers.items():
        if v.ndim < 2 or len(v) != len(ids):
            raise ValueError(f"{path}: layer {k!r} has shape {v.shape}; expected [N={len(ids)}, T, ...]")
    return layers, ids, step0


def _simulated(cache):
    if "sim" not in cache:
        from convrnn_tf import configurables

        cache["sim"] = configurables.simulate_recording()
    return cache["sim"]


def default_layers(model):
    """The layers fitted by default: the nodes whose output is a feature map ``[H, W, C]`` (the conv
    layers; not a flat readout such as the logits), or every node when there is none."""
    maps = [n for n in model.spec.nodes if len(model.spec.shapes[n].output) == 3]
    return maps or list(model.spec.nodes)


def _zoo_model(name):
    from convrnn_tf import zoo

    return zoo.build(zoo.check_name(name), presentation="neural")


def _gin_model(name, value):
    """``value`` (a `ConvRNN`, or a zero-argument callable returning one) as a `ConvRNN`."""
    from convrnn_tf.model import ConvRNN

    if not isinstance(value, ConvRNN):
        if not callable(value):
            raise ValueError(f"models[{name!r}]: expected a ConvRNN or a zero-argument callable returning one, "
                             f"got {type(value).__name__}")
        try:
            value = value()
        except TypeError as err:
            raise ValueError(f"models[{name!r}]: calling its factory failed: {str(err).splitlines()[0]}") from None
        if not isinstance(value, ConvRNN):
            raise ValueError(f"models[{name!r}]: its factory returned a {type(value).__name__}, not a ConvRNN")
    return value


def _model_images(model, what, stimuli, neural, cache):
    """The images a model is run on (see the module docstring)."""
    from convrnn_tf import features as feats

    if stimuli == "embedded" or (not stimuli and neural == "simulated"):
        sim = _simulated(cache)
        return feats.as_source(sim.images, ids=list(sim.stimulus_id))
    if not stimuli:
        raise ValueError(f"{what}: --stimuli is required to extract its features (the recording's images; "
                         "'embedded' for a simulated recording)")
    size = tuple(model.spec.shapes[model.spec.inputs[0]].harbor[:2])
    return feats.open_images(stimuli, size=size)


def _align_ids(ids, wanted):
    """``ids``, or their extension-less forms when only those contain every id in ``wanted``."""
    wanted = set(wanted)
    if wanted <= set(ids):
        return list(ids)
    stems = [os.path.splitext(i)[0] for i in ids]
    return stems if len(set(stems)) == len(stems) and wanted <= set(stems) else list(ids)


def model_features(model, name, layers, *, stimuli=None, neural=None, checkpoint=None, batch_size=32,
                   stimulus_ids=None, cache=None, log=print):
    """``({layer: float32 [N, model.times, ...]}, ids)``: ``model`` (a `ConvRNN`, restored from
    ``checkpoint`` first when given) run by `convrnn_tf.features.extract` on the images chosen from
    ``stimuli``/``neural`` (see the module docstring). ``layers``: node names checked against the model
    (None: `default_layers`).
    ``stimulus_ids``: the recording's ids, to which image-file ids are matched without extensions if needed.
    Errors (ValueError, `convrnn_tf.zoo.CheckpointError`, ImageError) are one line naming ``name``."""
    from convrnn_tf import features as feats
    from convrnn_tf import zoo

    cache = {} if cache is None else cache
    try:
        layers = default_layers(model) if layers is None else feats.check_layers(model, layers)
    except ValueError as err:
        raise ValueError(f"model {name!r}: {err}") from None
    source = _model_images(model, f"model {name!r}", stimuli, neural, cache)
    model.build()
    if checkpoint:
        try:
            log(f"{name}: loaded {zoo.restore_checkpoint(model, checkpoint)}")
        except zoo.CheckpointError as err:
            raise zoo.CheckpointError(f"model {name!r}: checkpoint {str(err).splitlines()[0]}",
                                      getattr(err, "report", None)) from None
    t0 = time.perf_counter()
    out = feats.extract(model, source, layers, batch_size=batch_size)
    log(f"{name}: extracted {', '.join(layers)} on {len(out.ids)} images x {model.times} steps "
        f"({time.perf_counter() - t0:.1f}s)")
    ids = out.ids if stimulus_ids is None else _align_ids(out.ids, stimulus_ids)
    return dict(out), ids


def _mapping(time_mapping, n_steps, step0, step_ms, offset_ms, model=False):
    """The `TimeMapping` of a source: "auto" is one_to_one for models and for features with several
    steps, "same" for single-step features; step ``step0`` of a file starts at ``offset_ms``."""
    from convrnn_tf.neural import TimeMapping

    kind = time_mapping if time_mapping != "auto" else ("one_to_one" if model or n_steps > 1 else "same")
    return TimeMapping(kind, step_ms=float(step_ms), offset_ms=float(offset_ms) + step0 * float(step_ms))


def _check_steps(what, mapping, assembly, n_steps, model=False):
    """Raise NeuralDataError naming ``what`` and the time bin when a bin maps outside ``n_steps`` steps."""
    from convrnn_tf.neural import NeuralDataError

    starts, ends = assembly["time_bin_start"].values, assembly["time_bin_end"].values
    try:
        mapping.recipes(starts, ends, n_steps)
    except NeuralDataError as err:
        hint = ""
        if model and mapping.kind == "one_to_one":
            need = math.ceil((float(max(ends)) - mapping.offset_ms) / mapping.step_ms - 1e-9)
            hint = f"; unroll it for times >= {need} steps (it has {n_steps})"
        raise NeuralDataError(f"{what}: {str(err).splitlines()[0]}{hint}") from None


def _layers_of(layers, label):
    """The layers asked for source ``label``: ``layers`` (a list or comma-separated string) or, for a
    dict ``{source name: layers}``, its entry (None: the source's default)."""
    return _split(layers.get(label)) if isinstance(layers, dict) else _split(layers)


def _sources(features, models, checkpoint, layers):
    """``[(label, kind, value)]`` with kind simulated | file | zoo | model; labels must be unique."""
    out = []
    for spec in features:
        if spec == "simulated":
            out.append(("simulated", "simulated", spec))
        elif os.path.splitext(spec)[1] or os.sep in spec:
            out.append((os.path.splitext(os.path.basename(spec))[0], "file", spec))
        else:
            out.append((spec, "zoo", spec))
    for name, value in models.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"models: display names must be non-empty strings, got {name!r}")
        out.append((name, "model", value))
    labels = [s[0] for s in out]
    twice = sorted({l for l in labels if labels.count(l) > 1})
    if twice:
        raise ValueError(f"feature source name(s) {twice} given twice (features and models need distinct names)")
    unknown = sorted(set(layers) - set(labels)) if isinstance(layers, dict) else []
    if unknown:
        raise ValueError(f"layers given for unknown source(s) {unknown}; sources: {', '.join(labels)}")
    if checkpoint and not any(kind == "zoo" for _, kind, _ in out):
        raise ValueError("--checkpoint is for a zoo model name in --features, and none is given "
                         "(gin models take fit_neural_run.checkpoints = {name: path})")
    return out


def _model_lines(summary):
    """Per model and region, its best layer and mean score over time bins (a few lines of text)."""
    s = summary[summary["time_bin_kind"] == "bin"] if "time_bin_kind" in summary else summary
    means = s.groupby(["model", "region", "layer"], sort=False)["score"].mean().reset_index()
    regions = list(dict.fromkeys(means["region"]))
    lines = ["per model: best layer and mean score over time bins", f"  {'model':<20}" +
             "".join(f" {r:>18}" for r in regions)]
    for model, g in means.groupby("model", sort=False):
        cells = []
        for r in regions:
            part = g[g["region"] == r]
            best = part.loc[part["score"].idxmax()] if len(part) else None
            cells.append("" if best is None else f"{best['layer']} {best['score']:.3f}")
        lines.append(f"  {model:<20}" + "".join(f" {c:>18}" for c in cells))
    return "\n".join(lines)


def _checkpoint_of(label, kind, o):
    ckpt = o["checkpoint"] if kind == "zoo" else o["checkpoints"].get(label)
    return os.fspath(ckpt) if ckpt else None


def _prepare_model(label, kind, spec, layers, assembly, o):
    """The `ConvRNN` of a zoo name or ``models`` entry, its layers, time steps and checkpoint path checked
    (before any fit)."""
    from convrnn_tf import features as feats
    from convrnn_tf import zoo

    model = _zoo_model(spec) if kind == "zoo" else _gin_model(label, spec)
    ckpt = _checkpoint_of(label, kind, o)
    if ckpt and not (os.path.exists(ckpt) or os.path.exists(f"{ckpt}.index")):
        raise zoo.CheckpointError(f"model {label!r}: checkpoint {ckpt}: does not exist")
    if layers is not None:
        try:
            feats.check_layers(model, layers)
        except ValueError as err:
            raise ValueError(f"model {label!r}: {err}") from None
    mapping = _mapping(o["time_mapping"], model.times, 0, o["step_ms"], o["offset_ms"], model=True)
    _check_steps(f"model {label!r}", mapping, assembly, model.times, model=True)
    return model


def _load_source(label, kind, spec, layers, assembly, o):
    """``(layer arrays, ids, first step, description, extra attrs)`` of one source; ``o``: run_fit's options."""
    if kind == "simulated":
        sim = _simulated(o["cache"])
        return sim.latents, sim.stimulus_id, 0, spec, {}
    if kind == "file":
        return (*read_features(spec), spec, {})
    ckpt = _checkpoint_of(label, kind, o)
    arrays, ids = model_features(o["models"].pop(label), label, layers, stimuli=o["stimuli"], neural=o["neural"],
                                 checkpoint=ckpt, batch_size=o["batch_size"],
                                 stimulus_ids=assembly["stimulus_id"].values, cache=o["cache"], log=o["log"])
    what = f"zoo model {spec}" if kind == "zoo" else f"model {label}"
    return arrays, ids, 0, what, ({"checkpoint": str(ckpt)} if ckpt else {})


@contextlib.contextmanager
def _blas_limit(threads):
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(threads), user_api="blas"):
        yield


def run_fit(features=("simulated",), neural="simulated", output=None, regions=None, layers=None, stimuli=None,
            checkpoint=None, models=None, checkpoints=None, time_mapping="auto", step_ms=10.0, offset_ms=0.0,
            n_splits=10, n_components=25, ceiling_splits=10, ceiling_convention="r^2/c", random_state=0,
            batch_size=32, blas_threads=1, log=print):
    """The body of ``bin/fit_neural`` (gin-configurable as ``fit_neural_run``); returns the summary frame.

    features: entries as in the module docstring; models: ``{display name: ConvRNN or factory}``;
    checkpoints: ``{display name: checkpoint}`` for ``models`` (`convrnn_tf.zoo.restore_checkpoint`);
    checkpoint: the one for zoo names in ``features``; layers: the layers of every source, or a dict
    ``{source name: layers}`` (default: all layers of a file or of the simulated latents, `default_layers`
    of a model); stimuli: the images of the models (see the module docstring); blas_threads: BLAS threads
    while fitting (the PLS's many small eigendecompositions run several times slower with more threads on
    a busy machine; None leaves the setting). Each (source, layer, region) is fitted per time bin.
    Errors are ValueError / FileNotFoundError (or their subclasses) with one-line messages.
    """
    import numpy as np

    from convrnn_tf.neural import fit_neural, load_assembly, report, save_assembly

    if not output:
        raise ValueError("--output is required")
    features = [features] if isinstance(features, str) else list(features or [])
    models, checkpoints = dict(models or {}), dict(checkpoints or {})
    unknown = sorted(set(checkpoints) - set(models))
    if unknown:
        raise ValueError(f"checkpoints given for unknown model(s) {unknown}; models: {sorted(models)}")
    if not features and not models:
        raise ValueError("--features is required (or fit_neural_run.models)")
    sources = _sources(features, models, checkpoint, layers)
    regions = _split(regions)
    os.makedirs(output, exist_ok=True)
    cache = {}
    if neural == "simulated":
        assembly = _simulated(cache).assembly
        save_assembly(assembly, os.path.join(output, "neural_simulated.nc"))
    elif not neural:
        raise ValueError("--neural is required")
    else:
        assembly = load_assembly(neural)
    available = sorted(set(assembly["region"].values.astype(str).tolist())) if "region" in assembly.coords else []
    if regions is None:
        regions = available or [None]
    else:
        unknown = [r for r in regions if r not in available]
        if unknown:
            raise ValueError(f"unknown region(s) {unknown}; the recording {neural!r} has regions {available}")

    opts = dict(time_mapping=time_mapping, step_ms=step_ms, offset_ms=offset_ms, checkpoint=checkpoint,
                checkpoints=checkpoints, stimuli=stimuli, neural=neural, batch_size=batch_size, cache=cache, log=log)
    opts["models"] = {label: _prepare_model(label, kind, spec, _layers_of(layers, label), assembly, opts)
                      for label, kind, spec in sources if kind in ("zoo", "model")}
    fits, t0 = [], time.perf_counter()
    with _blas_limit(blas_threads):
        for label, kind, spec in sources:
            chosen = _layers_of(layers, label)
            layer_arrays, ids, step0, spec, extra = _load_source(label, kind, spec, chosen, assembly, opts)
            chosen = chosen or list(layer_arrays)
            unknown = [l for l in chosen if l not in layer_arrays]
            if unknown:
                raise ValueError(f"unknown layer(s) {unknown} in features {spec!r}; "
                                 f"layers: {', '.join(layer_arrays)}")
            for layer in chosen:
                x = np.asarray(layer_arrays[layer], dtype=np.float32)
                mapping = _mapping(time_mapping, x.shape[1], step0, step_ms, offset_ms, kind in ("zoo", "model"))
                _check_steps(f"features {spec!r}, layer {layer!r}", mapping, assembly, x.shape[1])
                for region in regions:
                    ds = fit_neural(x, assembly, stimulus_ids=ids, time_mapping=mapping, n_splits=n_splits,
                                    n_components=n_components, ceiling_splits=ceiling_splits,
                                    ceiling_convention=ceiling_convention, random_state=random_state,
                                    region=region, source=str(neural),
                                    attrs={"model": label, "layer": layer, "features": str(spec), **extra})
                    if region is None:
                        ds.attrs["region"] = "all"
                    fits.append(ds)
                    log(f"fit {label}/{layer} -> {ds.attrs['region']}: mean score "
                        f"{float(ds['score'].mean()):.3f} ({time.perf_counter() - t0:.1f}s)")
    summary = report.combine(fits)
    _write(fits, summary, output)
    csv = os.path.join(output, "results.csv")
    with open(csv, "w", encoding="utf-8") as f:
        for key in ("regression", "correlation", "aggregation", "splits", "time_mapping", "ceiling_convention",
                    "ceiling_method"):
            if key in fits[0].attrs:
                f.write(f"# {key}: {fits[0].attrs[key]}\n")
        summary.to_csv(f, index=False)
    table = report.format_table(summary) + "\n\n" + _model_lines(summary)
    with open(os.path.join(output, "table.txt"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    report.plot_predictivity(summary, output)
    report.plot_model_comparison(summary, output)
    log(table)
    log(f"wrote {output}: results.nc, results.csv, table.txt, predictivity_*.png, model_comparison.png")
    return summary


def _write(fits, summary, output):
    import numpy as np
    import xarray as xr

    path = os.path.join(output, "results.nc")
    bins = summary[summary["time_bin_kind"] == "bin"]
    keys = list(dict.fromkeys(zip(bins["model"], bins["layer"], bins["region"])))
    first = bins[(bins["model"] == keys[0][0]) & (bins["layer"] == keys[0][1]) & (bins["region"] == keys[0][2])]
    data = {}
    for var in ("score", "score_sem", "ceiling", "ceiled", "ceiled_sem"):
        if var in bins:
            data[var] = (("fit", "time_bin"), np.stack([
                bins[(bins["model"] == m) & (bins["layer"] == l) & (bins["region"] == r)][var].to_numpy(float)
                for m, l, r in keys]))
    coords = {"model": ("fit", [k[0] for k in keys]), "layer": ("fit", [k[1] for k in keys]),
              "region": ("fit", [k[2] for k in keys]),
              "time_bin_start": ("time_bin", first["time_bin_start"].to_numpy(float)),
              "time_bin_end": ("time_bin", first["time_bin_end"].to_numpy(float))}
    per_fit = ("model", "layer", "region", "features", "checkpoint")
    attrs = {k: str(v) for k, v in fits[0].attrs.items() if k not in per_fit}
    xr.Dataset(data, coords=coords, attrs=attrs).to_netcdf(path, engine="h5netcdf")
    for i, ds in enumerate(fits):
        ds = ds.copy()
        ds.attrs = {k: str(v) for k, v in ds.attrs.items()}
        for name in list(ds.coords):
            if ds[name].dtype == object:
                ds = ds.assign_coords({name: ds[name].astype(str)})
        ds.to_netcdf(path, mode="a", group=f"fit_{i}", engine="h5netcdf")
