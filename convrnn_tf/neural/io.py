"""Read and write assemblies: NetCDF (brainio layout), ``.npz`` and ``.h5``.

NetCDF (``.nc``): one data variable with dims ``presentation x neuroid x time_bin`` and flat coordinates,
as brainio writes (its MultiIndexes are reset on writing). Written with xarray's ``h5netcdf`` engine when
installed (else ``netCDF4``, else ``scipy``, NetCDF3); global attributes ``identifier`` and
``stimulus_set_identifier`` are added if missing, attributes that netCDF cannot hold are dropped.

``.npz`` / ``.h5`` keys (datasets at the root of an HDF5 file; strings as UTF-8):

=====================  ==========================================  =========
key                    shape                                       required
=====================  ==========================================  =========
``data``               (n_presentations, n_neuroids, n_time_bins)  yes
``stimulus_id``        (n_presentations,) (``image_id`` accepted)  yes
``neuroid_id``         (n_neuroids,)                               yes
``time_bin_start``     (n_time_bins,) ms                           yes
``time_bin_end``       (n_time_bins,) ms                           yes
``repetition``         (n_presentations,) int                      no
``object_name``        (n_presentations,)                          no
``category_name``      (n_presentations,)                          no
``region``             (n_neuroids,)                               no
``presentation/NAME``  (n_presentations,) any other coordinate     no
``neuroid/NAME``       (n_neuroids,) any other coordinate          no
=====================  ==========================================  =========

(in ``.npz`` the prefixes are ``presentation__NAME`` / ``neuroid__NAME``). ``attrs`` (strings and
numbers) are HDF5 file attributes, or ``attrs__NAME`` scalar arrays in ``.npz``.
"""

from __future__ import annotations

import os

import numpy as np

from convrnn_tf.neural.assembly import NeuralDataError, _xr, as_assembly, make_assembly, validate_assembly

_PRES = ("repetition", "object_name", "category_name")
_REQUIRED = ("data", "stimulus_id", "neuroid_id", "time_bin_start", "time_bin_end")


def _engine():
    for name in ("h5netcdf", "netCDF4"):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    return "scipy"


def load_assembly(path, allow_nan=True, time_bin=None):
    """Load an assembly from ``.nc``, ``.npz`` or ``.h5``/``.hdf5`` and validate it (NaNs allowed here;
    the fitting functions decide where they are not). ``time_bin=(start, end)`` for 2-D NetCDF data."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"neural data file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".nc", ".nc4", ".netcdf"):
        xr = _xr()
        try:
            with xr.open_dataarray(path) as da:
                a = da.load()
        except ValueError as e:
            raise NeuralDataError(f"{path}: expected exactly one data variable (brainio layout): {e}") from e
        a = as_assembly(a, source=path, time_bin=time_bin)
        return validate_assembly(a, source=path, allow_nan=allow_nan)
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        arrays = {k.replace("__", "/", 1) if k.startswith(("presentation__", "neuroid__", "attrs__")) else k: v
                  for k, v in arrays.items()}
        attrs = {k.split("/", 1)[1]: _plain(arrays.pop(k)[()]) for k in list(arrays) if k.startswith("attrs/")}
        return _from_arrays(arrays, attrs, path, allow_nan)
    if ext in (".h5", ".hdf5"):
        h5py = _h5py(path)
        arrays = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: arrays.__setitem__(
                name, obj.asstr()[()] if obj.dtype.kind in "OS" else obj[()])
                if isinstance(obj, h5py.Dataset) else None)
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
        arrays = {k: v.astype(str) if v.dtype.kind == "O" else v for k, v in arrays.items()}
        return _from_arrays(arrays, attrs, path, allow_nan)
    raise NeuralDataError(f"{path}: unknown neural data format {ext!r} (use .nc, .npz or .h5)")


def _h5py(path):
    try:
        import h5py
    except ImportError as e:
        raise ImportError(f"{path}: reading/writing .h5 needs h5py (pip install h5py)") from e
    return h5py


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    return v.item() if isinstance(v, np.generic) else v


def _from_arrays(arrays, attrs, path, allow_nan):
    if "stimulus_id" not in arrays and "image_id" in arrays:
        arrays["stimulus_id"] = arrays["image_id"]
    for key in _REQUIRED:
        if key not in arrays:
            raise NeuralDataError(f"{path}: missing key/coordinate {key!r} (required: {list(_REQUIRED)})")
    pres = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("presentation/")}
    neur = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("neuroid/")}
    if "image_id" in arrays:
        pres.setdefault("image_id", arrays["image_id"])
    a = make_assembly(arrays["data"], arrays["stimulus_id"], arrays["neuroid_id"], arrays["time_bin_start"],
                      arrays["time_bin_end"], region=arrays.get("region"),
                      presentation_coords=pres, neuroid_coords=neur, attrs=attrs, source=path,
                      **{k: arrays.get(k) for k in _PRES})
    return validate_assembly(a, source=path, allow_nan=allow_nan)


def save_assembly(assembly, path, identifier=None):
    """Write an assembly to ``.nc`` (brainio layout), ``.npz`` or ``.h5`` (keys in the module docstring)."""
    path = os.fspath(path)
    a = as_assembly(assembly, source=path)
    ext = os.path.splitext(path)[1].lower()
    attrs = {k: v for k, v in a.attrs.items() if isinstance(v, (str, int, float, np.number))}
    if ext in (".nc", ".nc4", ".netcdf"):
        attrs.setdefault("identifier", identifier or os.path.splitext(os.path.basename(path))[0])
        attrs.setdefault("stimulus_set_identifier", "")
        out = a.copy()
        out.attrs = attrs
        for name in list(out.coords):
            if out[name].dtype == object:
                out = out.assign_coords({name: (out[name].dims, out[name].values.astype(str))})
        out.name = out.name or "data"
        out.to_netcdf(path, engine=_engine())
        return path
    arrays = {"data": np.asarray(a.values)}
    for name in a.coords:
        dims = a[name].dims
        values = np.asarray(a[name].values)
        values = values.astype(str) if values.dtype == object else values
        if name in _REQUIRED or name in _PRES or name == "region":
            arrays[name] = values
        elif dims in (("presentation",), ("neuroid",)):
            arrays[f"{dims[0]}/{name}"] = values
    if ext == ".npz":
        arrays.update({f"attrs/{k}": np.asarray(v) for k, v in attrs.items()})
        np.savez(path, **{k.replace("/", "__"): v for k, v in arrays.items()})
        return path
    if ext in (".h5", ".hdf5"):
        h5py = _h5py(path)
        with h5py.File(path, "w") as f:
            for key, v in arrays.items():
                f.create_dataset(key, data=v.astype(h5py.string_dtype()) if v.dtype.kind == "U" else v)
            f.attrs.update(attrs)
        return path
    raise NeuralDataError(f"{path}: unknown neural data format {ext!r} (use .nc, .npz or .h5)")
