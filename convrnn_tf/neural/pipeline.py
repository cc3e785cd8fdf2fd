"""Fit features to recordings for every layer and region, and write results, table and plots.

The body of ``bin/fit_neural`` (see `convrnn_tf.cli.fit_neural` for the command line), usable
without flags: `run_fit(features=..., neural=..., output=...)`.
"""

from __future__ import annotations

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


def _model_features(name, stimuli, checkpoint, layers, batch_size, cache, log):
    from convrnn_tf import features as feats
    from convrnn_tf import zoo

    if not stimuli:
        raise ValueError(f"--features={name!r} is a model name: --stimuli is required to extract its features")
    model = zoo.build(zoo.check_name(name), presentation="neural")
    layers = feats.check_layers(model, layers)
    model.build()
    if checkpoint:
        log(f"loaded {zoo.restore_checkpoint(model, checkpoint)}")
    if stimuli == "embedded":
        sim = _simulated(cache)
        source = feats.as_source(sim.images, ids=list(sim.stimulus_id))
    else:
        size = tuple(model.spec.shapes[model.spec.inputs[0]].harbor[:2])
        source = feats.open_images(stimuli, size=size)
    out = feats.extract(model, source, layers)
    return dict(out), out.ids


def run_fit(features=("simulated",), neural="simulated", output=None, regions=None, layers=None, stimuli=None,
            checkpoint=None, time_mapping="auto", step_ms=10.0, offset_ms=0.0, n_splits=10, n_components=25,
            ceiling_splits=10, ceiling_convention="r^2/c", random_state=0, batch_size=32, log=print):
    """The body of ``bin/fit_neural`` (gin-configurable as ``fit_neural_run``); returns the summary frame.
    Errors are ValueError / FileNotFoundError with one-line messages."""
    import numpy as np

    from convrnn_tf.neural import TimeMapping, fit_neural, load_assembly, report, save_assembly

    if not output:
        raise ValueError("--output is required")
    features = [features] if isinstance(features, str) else list(features or [])
    if not features:
        raise ValueError("--features is required")
    regions, layers = _split(regions), _split(layers)
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

    fits, t0 = [], time.perf_counter()
    for spec in features:
        step0 = 0
        if spec == "simulated":
            sim = _simulated(cache)
            layer_arrays, ids, model = sim.latents, sim.stimulus_id, "simulated"
        elif os.path.splitext(spec)[1] or os.sep in spec:
            layer_arrays, ids, step0 = read_features(spec)
            model = os.path.splitext(os.path.basename(spec))[0]
        else:
            layer_arrays, ids = _model_features(spec, stimuli, checkpoint, layers, batch_size, cache, log)
            model = spec
        chosen = layers or list(layer_arrays)
        unknown = [l for l in chosen if l not in layer_arrays]
        if unknown:
            raise ValueError(f"unknown layer(s) {unknown} in features {spec!r}; layers: {', '.join(layer_arrays)}")
        for layer in chosen:
            x = np.asarray(layer_arrays[layer], dtype=np.float32)
            kind = time_mapping if time_mapping != "auto" else ("same" if x.shape[1] == 1 else "one_to_one")
            mapping = TimeMapping(kind, step_ms=float(step_ms), offset_ms=float(offset_ms) + step0 * float(step_ms))
            for region in regions:
                ds = fit_neural(x, assembly, stimulus_ids=ids, time_mapping=mapping, n_splits=n_splits,
                                n_components=n_components, ceiling_splits=ceiling_splits,
                                ceiling_convention=ceiling_convention, random_state=random_state,
                                region=region, source=str(neural),
                                attrs={"model": model, "layer": layer, "features": str(spec)})
                if region is None:
                    ds.attrs["region"] = "all"
                fits.append(ds)
                log(f"fit {model}/{layer} -> {ds.attrs['region']}: mean score {float(ds['score'].mean()):.3f} "
                    f"({time.perf_counter() - t0:.1f}s)")
    summary = report.combine(fits)
    _write(fits, summary, output)
    csv = os.path.join(output, "results.csv")
    with open(csv, "w", encoding="utf-8") as f:
        for key in ("regression", "correlation", "aggregation", "splits", "time_mapping", "ceiling_convention",
                    "ceiling_method"):
            if key in fits[0].attrs:
                f.write(f"# {key}: {fits[0].attrs[key]}\n")
        summary.to_csv(f, index=False)
    table = report.format_table(summary)
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
    attrs = {k: str(v) for k, v in fits[0].attrs.items() if k not in ("model", "layer", "region", "features")}
    xr.Dataset(data, coords=coords, attrs=attrs).to_netcdf(path, engine="h5netcdf")
    for i, ds in enumerate(fits):
        ds = ds.copy()
        ds.attrs = {k: str(v) for k, v in ds.attrs.items()}
        for name in list(ds.coords):
            if ds[name].dtype == object:
                ds = ds.assign_coords({name: ds[name].astype(str)})
        ds.to_netcdf(path, mode="a", group=f"fit_{i}", engine="h5netcdf")
