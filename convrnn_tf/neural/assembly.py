"""Neural recordings as labelled arrays in the Brain-Score/brainio layout, with validation.

An *assembly* is an ``xarray.DataArray`` with dims ``("presentation", "neuroid", "time_bin")``:

- along ``presentation`` (one row per trial, or per stimulus once repetitions are averaged):
  ``stimulus_id`` (required; a legacy ``image_id`` is copied into it), ``repetition`` (trial index per
  stimulus; inferred from the order of occurrence when absent), ``object_name`` and ``category_name``
  (needed by stratified and held-out-object splits), anything else;
- along ``neuroid``: ``neuroid_id`` (required, unique), ``region``, anything else;
- along ``time_bin``: ``time_bin_start`` and ``time_bin_end`` in ms (required, end > start).

brainio assemblies keep these as MultiIndex levels; :func:`as_assembly` flattens them. Errors are
:class:`NeuralDataError` and name the source (file) and the coordinate at fault.
"""

from __future__ import annotations

import dataclasses

import numpy as np

DIMS = ("presentation", "neuroid", "time_bin")
STIMULUS_COORDS = ("object_name", "category_name")


class NeuralDataError(ValueError):
    """Invalid neural data; the message names the source and the coordinate or value at fault."""


def _xr():
    try:
        import xarray
    except ImportError as e:  # pragma: no cover - dependency message
        raise ImportError("convrnn_tf.neural needs xarray: pip install xarray") from e
    return xarray


def make_assembly(data, stimulus_id, neuroid_id, time_bin_start, time_bin_end, repetition=None,
                  object_name=None, category_name=None, region=None, presentation_coords=None,
                  neuroid_coords=None, attrs=None, source="<arrays>"):
    """Build an assembly from arrays: data (n_presentations, n_neuroids, n_time_bins); per-presentation
    ``stimulus_id``/``repetition``/``object_name``/``category_name``; per-neuroid ``neuroid_id`` and
    ``region`` (a string is broadcast); per-bin start/end in ms."""
    xr = _xr()
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 3:
        raise NeuralDataError(f"{source}: data must be (presentation, neuroid, time_bin); got {data.shape}")
    coords = {"stimulus_id": ("presentation", np.asarray(stimulus_id).astype(str)),
              "neuroid_id": ("neuroid", np.asarray(neuroid_id).astype(str)),
              "time_bin_start": ("time_bin", np.asarray(time_bin_start, dtype=np.float64)),
              "time_bin_end": ("time_bin", np.asarray(time_bin_end, dtype=np.float64))}
    for name, values in (("repetition", repetition), ("object_name", object_name),
                         ("category_name", category_name)):
        if values is not None:
            coords[name] = ("presentation", np.asarray(values))
    if region is not None:
        coords["region"] = ("neuroid", np.broadcast_to(np.asarray(region).astype(str), data.shape[1:2]))
    for dim, extra in (("presentation", presentation_coords), ("neuroid", neuroid_coords)):
        for name, values in (extra or {}).items():
            coords[name] = (dim, np.asarray(values))
    try:
        assembly = xr.DataArray(data, dims=DIMS, coords=coords, attrs=dict(attrs or {}))
    except ValueError as e:
        raise NeuralDataError(f"{source}: coordinate lengths do not match the data {data.shape}: {e}") from e
    return validate_assembly(assembly, source=source, allow_nan=True)


def as_assembly(obj, source="<in-memory>", time_bin=None):
    """Normalise a DataArray (brainio or plain) to the layout above; a 2-D (presentation, neuroid) array
    gets one time bin ``time_bin=(start_ms, end_ms)``."""
    xr = _xr()
    if not isinstance(obj, xr.DataArray):
        raise NeuralDataError(f"{source}: expected an xarray.DataArray, got {type(obj).__name__}")
    a = obj
    indexed = [name for name, idx in a.indexes.items() if getattr(idx, "nlevels", 1) > 1]
    if indexed:
        a = a.reset_index(indexed)
    a = a.drop_vars([d for d in a.dims if d in a.coords and d in DIMS], errors="ignore")
    for dim in ("presentation", "neuroid"):
        if dim not in a.dims:
            raise NeuralDataError(f"{source}: missing dimension {dim!r} (dims are {a.dims})")
    if "time_bin" not in a.dims:
        if time_bin is None:
            raise NeuralDataError(f"{source}: no 'time_bin' dimension and no time_bin=(start_ms, end_ms) "
                                  "given for coordinates 'time_bin_start'/'time_bin_end'")
        a = a.expand_dims("time_bin", axis=-1).assign_coords(
            time_bin_start=("time_bin", [float(time_bin[0])]), time_bin_end=("time_bin", [float(time_bin[1])]))
    extra = [d for d in a.dims if d not in DIMS]
    if extra:
        raise NeuralDataError(f"{source}: unexpected dimensions {extra}; expected {DIMS}")
    if "stimulus_id" not in a.coords and "image_id" in a.coords:
        a = a.assign_coords(stimulus_id=("presentation", a["image_id"].values))
    return a.transpose(*DIMS)


def _coord(a, name, dim, source):
    if name not in a.coords:
        raise NeuralDataError(f"{source}: missing coordinate {name!r} (along {dim!r})")
    c = a[name]
    if c.dims != (dim,):
        raise NeuralDataError(f"{source}: coordinate {name!r} must lie along {dim!r}, not {c.dims}")
    return c.values


def validate_assembly(a, source="<in-memory>", allow_nan=False, need_repetitions=False,
                      need=(), time_bin=None):
    """Check an assembly and return it normalised (see the module docstring).

    ``allow_nan``: NaN responses are missing trials (else an error naming the first neuroid/time bin);
    ``need_repetitions``: every stimulus must have >= 2 repetitions (a split-half ceiling needs them);
    ``need``: further coordinates that must exist (e.g. ``("object_name",)`` for stratified splits).
    """
    a = as_assembly(a, source=source, time_bin=time_bin)
    stim = _coord(a, "stimulus_id", "presentation", source).astype(str)
    ids = _coord(a, "neuroid_id", "neuroid", source)
    start = _coord(a, "time_bin_start", "time_bin", source).astype(float)
    end = _coord(a, "time_bin_end", "time_bin", source).astype(float)
    for name in need:
        dim = "neuroid" if name == "region" else "presentation"
        _coord(a, name, dim, source)
    if len(set(ids.tolist())) != len(ids):
        raise NeuralDataError(f"{source}: coordinate 'neuroid_id' has duplicate values")
    if np.any(~(end > start)):
        raise NeuralDataError(f"{source}: coordinate 'time_bin_end' must exceed 'time_bin_start'")
    if "repetition" not in a.coords:
        a = a.assign_coords(repetition=("presentation", _occurrence(stim)))
        a.attrs["repetition_inferred"] = "order of occurrence of each stimulus_id"
    reps = _coord(a, "repetition", "presentation", source)
    pairs = set(zip(stim.tolist(), reps.tolist()))
    if len(pairs) != len(stim):
        raise NeuralDataError(f"{source}: coordinates ('stimulus_id', 'repetition') have duplicate pairs")
    values = np.asarray(a.values, dtype=np.float64)
    if not allow_nan and np.isnan(values).any():
        p, n, t = np.argwhere(np.isnan(values))[0]
        raise NeuralDataError(
            f"{source}: NaN response not allowed here (first at stimulus_id={str(stim[p])!r}, "
            f"neuroid_id={str(ids[n])!r}, time bin {start[t]:g}-{end[t]:g} ms; {int(np.isnan(values).sum())} NaNs)")
    if need_repetitions:
        counts = {}
        for s in stim:
            counts[s] = counts.get(s, 0) + 1
        few = [str(s) for s, c in counts.items() if c < 2]
        if few:
            raise NeuralDataError(
                f"{source}: a noise ceiling needs >= 2 repetitions per stimulus (coordinate 'repetition'); "
                f"{len(few)} stimulus_id(s) have fewer, e.g. {few[:3]}")
    return a


def _occurrence(values):
    seen, out = {}, np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        out[i] = seen.get(v, 0)
        seen[v] = out[i] + 1
    return out


@dataclasses.dataclass
class Dense:
    """Trials on a grid: ``data`` (n_stimuli, n_reps, n_neuroids, n_bins), NaN where no trial;
    ``valid`` (n_stimuli, n_reps); per-stimulus ``stimulus_id`` and ``stimulus_coords``; per-neuroid
    ``neuroid_coords``; ``time_bin_start``/``time_bin_end``."""

    data: np.ndarray
    valid: np.ndarray
    stimulus_id: np.ndarray
    stimulus_coords: dict
    neuroid_coords: dict
    time_bin_start: np.ndarray
    time_bin_end: np.ndarray

    def mean(self):
        """Repetition average (n_stimuli, n_neuroids, n_bins), NaN-aware per neuroid and bin."""
        counts = (~np.isnan(self.data)).sum(axis=1)
        total = np.nansum(self.data, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def to_dense(a, source="<in-memory>", allow_nan=False):
    """Validate ``a`` and lay its trials out as :class:`Dense` (stimuli in order of first appearance)."""
    a = validate_assembly(a, source=source, allow_nan=allow_nan)
    stim = a["stimulus_id"].values.astype(str)
    uniq, first, inverse = np.unique(stim, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    s_index = rank[inverse]
    reps = a["repetition"].values
    rep_values, r_index = np.unique(reps, return_inverse=True)
    values = np.asarray(a.values, dtype=np.float64)
    data = np.full((len(uniq), len(rep_values)) + values.shape[1:], np.nan)
    data[s_index, r_index] = values
    valid = np.zeros(data.shape[:2], dtype=bool)
    valid[s_index, r_index] = True
    stim_first = first[order]
    stim_coords = {name: a[name].values[stim_first] for name in a.coords
                   if a[name].dims == ("presentation",) and name not in ("stimulus_id", "repetition", "image_id")
                   and _constant_per_stimulus(a[name].values, s_index, len(uniq))}
    neuroid_coords = {name: a[name].values for name in a.coords if a[name].dims == ("neuroid",)}
    return Dense(data, valid, uniq[order], stim_coords, neuroid_coords,
                 a["time_bin_start"].values.astype(float), a["time_bin_end"].values.astype(float))


def complete_mean(dense, source="<in-memory>"):
    """The repetition average of :class:`Dense` (``Dense.mean``), or an error naming the first
    stimulus, neuroid and time bin without any trial."""
    mean = dense.mean()
    if np.isnan(mean).any():
        s, n, t = np.argwhere(np.isnan(mean))[0]
        raise NeuralDataError(f"{source}: NaN in the repetition-averaged responses (stimulus_id="
                              f"{str(dense.stimulus_id[s])!r}, neuroid {n}, time bin {t}); drop or fill them")
    return mean


def _constant_per_stimulus(values, s_index, n):
    first = np.empty(n, dtype=values.dtype)
    first[s_index[::-1]] = values[::-1]
    return bool(np.all(first[s_index] == values))


def from_dense(dense, data=None, attrs=None):
    """Repetition-averaged assembly (one presentation per stimulus) from :class:`Dense`."""
    data = dense.mean() if data is None else data
    xr = _xr()
    coords = {"stimulus_id": ("presentation", dense.stimulus_id),
              "time_bin_start": ("time_bin", dense.time_bin_start),
              "time_bin_end": ("time_bin", dense.time_bin_end)}
    coords.update({k: ("presentation", v) for k, v in dense.stimulus_coords.items()})
    coords.update({k: ("neuroid", v) for k, v in dense.neuroid_coords.items()})
    return xr.DataArray(data, dims=DIMS, coords=coords, attrs=dict(attrs or {}))


def average_repetitions(a, source="<in-memory>", allow_nan=False):
    """Mean over repetitions per stimulus (NaN-aware when ``allow_nan``); per-stimulus coordinates kept."""
    return from_dense(to_dense(a, source=source, allow_nan=allow_nan), attrs=getattr(a, "attrs", None))


def time_average(a, windows, source="<in-memory>"):
    """Average time bins inside each window (start_ms, end_ms): the new bins are the windows.
    Bins count when ``start >= window start`` and ``end <= window end``."""
    xr = _xr()
    a = as_assembly(a, source=source)
    start, end = a["time_bin_start"].values, a["time_bin_end"].values
    parts = []
    for w0, w1 in windows:
        inside = (start >= w0) & (end <= w1)
        if not inside.any():
            raise NeuralDataError(f"{source}: no time bin (coordinates 'time_bin_start'/'time_bin_end') "
                                  f"lies inside the window {w0}-{w1} ms")
        part = a.isel(time_bin=np.flatnonzero(inside)).mean("time_bin", keep_attrs=True)
        parts.append(part.expand_dims("time_bin", axis=-1).assign_coords(
            time_bin_start=("time_bin", [float(w0)]), time_bin_end=("time_bin", [float(w1)])))
    return xr.concat(parts, dim="time_bin").transpose(*DIMS)


def match_stimuli(feature_ids, stimulus_ids, source="features"):
    """Index into ``feature_ids`` for each of ``stimulus_ids`` (coordinate 'stimulus_id').
    Raises when an assembly stimulus has no features or when feature ids repeat."""
    feature_ids = np.asarray(feature_ids).astype(str).tolist()
    stimulus_ids = np.asarray(stimulus_ids).astype(str).tolist()
    lookup = {s: i for i, s in enumerate(feature_ids)}
    if len(lookup) != len(feature_ids):
        raise NeuralDataError(f"{source}: feature stimulus ids (coordinate 'stimulus_id') repeat")
    missing = [s for s in stimulus_ids if s not in lookup]
    if missing:
        raise NeuralDataError(
            f"{source}: {len(missing)} of {len(stimulus_ids)} neural stimulus ids (coordinate 'stimulus_id') "
            f"have no model features, e.g. {missing[:3]}; feature ids look like {feature_ids[:3]}")
    return np.array([lookup[s] for s in stimulus_ids])
