"""Assemblies: file round trips (.nc, .npz, .h5), the brainio layout, and a clear error for each bad input."""

import numpy as np
import pytest
import xarray as xr

from convrnn_tf.neural import (NeuralDataError, TimeMapping, average_repetitions, fit_neural, load_assembly,
                               make_assembly, save_assembly, split_half_consistency, time_average,
                               validate_assembly)


def _assembly(n=12, reps=3, q=4, bins=2, seed=0):
    rng = np.random.default_rng(seed)
    return make_assembly(
        rng.normal(size=(n * reps, q, bins)), np.repeat([f"s{i:02d}" for i in range(n)], reps),
        [f"n{j}" for j in range(q)], 70 + 10 * np.arange(bins), 80 + 10 * np.arange(bins),
        repetition=np.tile(np.arange(reps), n), object_name=np.repeat(["a", "b"], n * reps // 2),
        category_name=np.repeat(["x"], n * reps), region="V4",
        presentation_coords={"variation": np.tile([0, 3, 6], n * reps // 3)},
        neuroid_coords={"animal": ["Chabo"] * q}, attrs={"identifier": "test.Assembly"})


@pytest.mark.parametrize("ext", [".nc", ".npz", ".h5"])
def test_round_trip(tmp_path, ext):
    if ext == ".h5":
        pytest.importorskip("h5py")
    a = _assembly()
    path = save_assembly(a, tmp_path / f"rec{ext}")
    b = load_assembly(path)
    assert b.dims == ("presentation", "neuroid", "time_bin")
    np.testing.assert_array_equal(b.values, a.values)
    for name in ("stimulus_id", "repetition", "object_name", "category_name", "region", "neuroid_id",
                 "time_bin_start", "time_bin_end", "variation", "animal"):
        assert np.array_equal(np.asarray(b[name].values).astype(str), np.asarray(a[name].values).astype(str)), name
    assert b.attrs["identifier"] == "test.Assembly"


def test_brainio_multiindex_and_image_id():
    a = _assembly().drop_vars("stimulus_id")
    a = a.assign_coords(image_id=("presentation", np.repeat([f"s{i:02d}" for i in range(12)], 3)))
    mi = a.set_index(presentation=["image_id", "repetition", "object_name"], neuroid=["neuroid_id", "region"],
                     time_bin=["time_bin_start", "time_bin_end"])
    b = validate_assembly(mi, need_repetitions=True)
    assert b["stimulus_id"].values[0] == "s00"
    avg = average_repetitions(mi)
    assert avg.sizes["presentation"] == 12 and "object_name" in avg.coords
    np.testing.assert_allclose(avg.values[0], a.values[:3].mean(axis=0))
    assert split_half_consistency(mi, n_splits=2)["per_neuroid"].shape == (4, 2)
    win = time_average(avg, [(70, 90)])
    np.testing.assert_allclose(win.values[..., 0], avg.values.mean(axis=-1))


def test_2d_assembly_needs_time_bin(tmp_path):
    a = _assembly(bins=1).isel(time_bin=0, drop=True)
    assert "time_bin_start" not in a.coords
    with pytest.raises(NeuralDataError, match="time_bin"):
        validate_assembly(a, source="static.nc")
    b = validate_assembly(a, time_bin=(70, 170))
    assert b["time_bin_end"].values.tolist() == [170.0]


def test_missing_coordinate_names_file_and_coordinate(tmp_path):
    a = _assembly()
    path = tmp_path / "no_ids.npz"
    np.savez(path, data=a.values, stimulus_id=a["stimulus_id"].values, time_bin_start=[70, 80],
             time_bin_end=[80, 90])
    with pytest.raises(NeuralDataError, match=r"no_ids\.npz.*'neuroid_id'"):
        load_assembly(path)
    nc = save_assembly(a.drop_vars("neuroid_id"), tmp_path / "no_neuroid.nc")
    with pytest.raises(NeuralDataError, match=r"no_neuroid\.nc.*missing coordinate 'neuroid_id'"):
        load_assembly(nc)
    with pytest.raises(ValueError, match="object_name"):
        fit_neural(np.zeros((12, 3)), a.drop_vars("object_name"), stimulus_ids=[f"s{i:02d}" for i in range(12)])
    with pytest.raises(NeuralDataError, match="unknown neural data format"):
        load_assembly(_touch(tmp_path / "x.csv"))


def _touch(path):
    path.write_text("")
    return path


def test_nans_where_not_allowed():
    a = _assembly()
    values = a.values.copy()
    values[5, 2, 1] = np.nan
    bad = a.copy(data=values)
    with pytest.raises(NeuralDataError, match=r"rec\.nc: NaN.*stimulus_id='s01'.*neuroid_id='n2'.*80-90"):
        validate_assembly(bad, source="rec.nc")
    validate_assembly(bad, allow_nan=True)  # a missing trial is fine where allowed
    values[3:6, 2, 1] = np.nan  # every trial of s01: the average is NaN
    with pytest.raises(NeuralDataError, match="NaN in the repetition-averaged"):
        fit_neural(np.ones((12, 3)), a.copy(data=values), stimulus_ids=[f"s{i:02d}" for i in range(12)])
    feats = np.random.default_rng(0).normal(size=(12, 3))
    feats[4, 1] = np.inf
    with pytest.raises(NeuralDataError, match="non-finite"):
        fit_neural(feats, a, stimulus_ids=[f"s{i:02d}" for i in range(12)], splits="shuffle", n_splits=2)


def test_stimulus_ids_must_match_features():
    a = _assembly()
    ids = [f"s{i:02d}" for i in range(12)]
    with pytest.raises(NeuralDataError, match=r"1 of 12 neural stimulus ids \(coordinate 'stimulus_id'\).*'s11'"):
        fit_neural(np.zeros((11, 3)), a, stimulus_ids=ids[:11])
    with pytest.raises(NeuralDataError, match="repeat"):
        fit_neural(np.zeros((13, 3)), a, stimulus_ids=ids + ["s00"])
    with pytest.raises(NeuralDataError, match="no stimulus ids"):
        fit_neural(np.zeros((12, 3)), a)
    feats = xr.DataArray(np.random.default_rng(0).normal(size=(12, 5)), dims=("presentation", "neuroid"),
                         coords={"stimulus_id": ("presentation", ids[::-1])})
    assert fit_neural(feats, a, splits="shuffle", n_splits=2, ceiling=False)["r"].shape == (2, 4, 2)


def test_ceiling_needs_two_repetitions():
    single = _assembly(reps=1)
    with pytest.raises(NeuralDataError, match=r"rec\.nc: a noise ceiling needs >= 2 repetitions.*'repetition'"):
        split_half_consistency(single, source="rec.nc")
    with pytest.raises(NeuralDataError, match=">= 2 repetitions"):
        fit_neural(np.ones((12, 2)), single, stimulus_ids=[f"s{i:02d}" for i in range(12)])
    ok = fit_neural(np.random.default_rng(0).normal(size=(12, 2)), single,
                    stimulus_ids=[f"s{i:02d}" for i in range(12)], ceiling=False, splits="shuffle", n_splits=2)
    assert "ceiling" not in ok


def test_duplicate_trials_and_time_mapping_errors():
    a = _assembly()
    dup = a.assign_coords(repetition=("presentation", np.zeros(36, dtype=int)))
    with pytest.raises(NeuralDataError, match="duplicate pairs"):
        validate_assembly(dup)
    ids = [f"s{i:02d}" for i in range(12)]
    with pytest.raises(NeuralDataError, match=r"time bin 80-90 ms .* outside the 1 steps"):
        fit_neural(np.zeros((12, 1, 3)), a, stimulus_ids=ids, time_mapping=TimeMapping(offset_ms=70))
    with pytest.raises(ValueError, match="unknown ceiling convention"):
        fit_neural(np.random.default_rng(0).normal(size=(12, 3)), a, stimulus_ids=ids,
                   ceiling_convention="r/sqrt(c)", n_splits=2)
