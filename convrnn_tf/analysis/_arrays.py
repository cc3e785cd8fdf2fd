"""Input checking shared by the analyses: responses, labels, time bins, metadata columns.

Contract: every analysis takes ``responses`` as a float array ``[presentation, neuroid, time_bin]`` and
per-presentation label arrays of length ``presentation``.  An xarray ``DataArray`` with dims
``presentation``/``neuroid``/``time_bin`` is accepted too (duck-typed: xarray is not imported); its time
bins come from the ``time_bin_start`` coordinate (else ``time_bin``) and a label given as a string is read
from the presentation coordinate of that name.  Every failed check raises ``ValueError`` naming the
culprit (the argument, the missing bins, the class, the column).
"""

from __future__ import annotations

import numpy as np

RESPONSE_DIMS = ("presentation", "neuroid", "time_bin")

#: Kar et al. 2019 / Brain-Score Kar2019-ost: 18 bins of 10 ms, (70, 80) ... (240, 250); bin starts in ms.
KAR2019_TIME_BINS = np.arange(70, 250, 10)
#: Kar et al. 2019: number of train/test splits of the OST decoder.
KAR2019_SPLITS = 10


def is_dataarray(obj) -> bool:
    """True for an xarray-like labelled array (has ``dims``, ``coords`` and ``values``)."""
    return all(hasattr(obj, a) for a in ("dims", "coords", "values"))


def _coord(arr, name):
    if name not in arr.coords:
        raise ValueError(f"coordinate {name!r} not found on the responses (coords: {sorted(arr.coords)})")
    return np.asarray(arr.coords[name].values)


def time_bins_of(arr) -> np.ndarray:
    """Bin times of a DataArray: ``time_bin_start``, else a 1-D ``time_bin`` (or its (start, end) pairs)."""
    for name in ("time_bin_start", "time_bin"):
        if name in arr.coords:
            vals = np.asarray(arr.coords[name].values)
            if vals.dtype == object:  # MultiIndex of (start, end) tuples
                vals = np.asarray([v[0] for v in vals], dtype=float)
            return vals
    return np.arange(arr.sizes["time_bin"], dtype=float)


def as_responses(responses, time_bins=None, select=None):
    """Return ``(array [P, N, T] float64, time_bins [T] float64)``.

    ``time_bins``: one time per bin (e.g. the bin start in ms); a ``[T, 2]`` array of (start, end) pairs is
    reduced to the starts. Default: the DataArray coordinate, else ``0..T-1`` (model time steps).
    ``select``: bin times to keep, in the requested order; ValueError lists any that are missing.
    """
    if is_dataarray(responses):
        missing = [d for d in RESPONSE_DIMS if d not in responses.dims]
        if missing:
            raise ValueError(f"responses lack dims {missing}; expected {RESPONSE_DIMS}, got {responses.dims}")
        responses = responses.transpose(*RESPONSE_DIMS)
        if time_bins is None:
            time_bins = time_bins_of(responses)
        responses = responses.values
    x = np.asarray(responses, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"responses must be [presentation, neuroid, time_bin]; got shape {x.shape}")
    times = np.arange(x.shape[2], dtype=float) if time_bins is None else np.asarray(time_bins, dtype=float)
    if times.ndim == 2 and times.shape[1] == 2:
        times = times[:, 0]
    if times.ndim != 1 or len(times) != x.shape[2]:
        raise ValueError(f"time_bins has shape {times.shape}; responses have {x.shape[2]} time bins")
    if len(times) > 1 and np.any(np.diff(times) <= 0):
        raise ValueError(f"time_bins must increase strictly; got {times.tolist()}")
    if not np.all(np.isfinite(x)):
        raise ValueError("responses contain NaN or inf values")
    if select is not None:
        idx = select_time_bins(times, select)
        x, times = x[:, :, idx], times[idx]
    return x, times


def select_time_bins(times, requested) -> np.ndarray:
    """Indices of ``requested`` bin times within ``times``; ValueError names the missing bins."""
    times = np.asarray(times, dtype=float)
    requested = np.atleast_1d(np.asarray(requested, dtype=float))
    idx, missing = [], []
    for r in requested:
        hit = np.flatnonzero(np.isclose(times, r))
        (idx.append(int(hit[0])) if hit.size else missing.append(float(r)))
    if missing:
        raise ValueError(
            f"time bins {_fmt(missing)} missing from the responses (available: {_fmt(times.tolist())})"
        )
    return np.asarray(idx, dtype=int)


def _fmt(vals):
    return "[" + ", ".join(f"{v:g}" for v in vals) + "]"


def labels_of(labels, responses=None, n=None, name="labels") -> np.ndarray:
    """A per-presentation label array; a string names a coordinate of a DataArray ``responses``."""
    if isinstance(labels, str):
        if responses is None or not is_dataarray(responses):
            raise ValueError(f"{name}={labels!r} names a coordinate, but the responses carry no coordinates")
        labels = _coord(responses, labels)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one per presentation); got shape {labels.shape}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries; responses have {n} presentations")
    return labels


def classes_of(labels, name="labels") -> tuple[np.ndarray, np.ndarray]:
    """``(classes, index)``: sorted unique labels and each label's index; ValueError for < 2 classes."""
    classes, index = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{name} hold fewer than two classes ({classes.tolist()}); decoding needs >= 2")
    return classes, index


def column(table, name, role="column"):
    """Column ``name`` of a table: a mapping of arrays, a pandas DataFrame or a NumPy structured array."""
    cols = table_columns(table)
    if name not in cols:
        raise ValueError(f"{role} {name!r} not found in the table (columns: {cols})")
    return np.asarray(table[name])


def table_columns(table) -> list:
    if getattr(table, "dtype", None) is not None and table.dtype.names:
        return list(table.dtype.names)
    if hasattr(table, "columns"):
        return list(table.columns)
    if hasattr(table, "keys"):
        return list(table.keys())
    raise ValueError(f"cannot read columns from a {type(table).__name__}; pass a dict of arrays")


def flag_of(flag, table=None, n=None, positive=True, name="flag") -> np.ndarray:
    """A boolean per-image flag: an array, or the column ``flag`` of ``table`` (values == ``positive``)."""
    if isinstance(flag, str):
        if table is None:
            raise ValueError(f"{name}={flag!r} names a column but no table was given")
        flag = column(table, flag, role=f"{name} column")
    flag = np.asarray(flag)
    if flag.dtype != bool:
        flag = flag == positive
    if flag.ndim != 1 or (n is not None and len(flag) != n):
        raise ValueError(f"{name} must have one entry per image ({n}); got shape {flag.shape}")
    return flag
