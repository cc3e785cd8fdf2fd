"""Real V4 data: Cowley, Stan, Pillow & Smith (2023), session 210325 (GPL-3.0; read in place from
``../shared``, skipped when it is absent)."""

import numpy as np
import pytest

from convrnn_tf.neural import fit_neural, load_cowley2023, load_cowley2023_images, split_half_consistency

SESSION = "data/cowley2023-v4-session210325"


@pytest.fixture
def folder(shared_dir):
    """The session folder; ``shared_dir`` (tests/conftest.py) skips when ../shared is absent."""
    path = shared_dir / SESSION
    if not path.is_dir():
        pytest.skip(f"needs the Cowley 2023 V4 session at {path} (absent from this shared/ folder)")
    return path


def test_reader(folder):
    raw = np.load(folder / "responses_raw.npy")
    a = load_cowley2023(folder)
    assert a.dims == ("presentation", "neuroid", "time_bin")
    assert a.sizes["presentation"] == int((~np.isnan(raw[0])).sum()) and a.sizes["neuroid"] == 50
    assert a["stimulus_id"].values[0] == "image0001" and a["stimulus_id"].values[-1] == "image0640"
    assert set(a["region"].values) == {"V4"} and not np.isnan(a.values).any()
    avg = load_cowley2023(folder, averaged=True)
    np.testing.assert_allclose(avg.values[:, :, 0], np.load(folder / "responses_repeat_averaged.npy").T)
    assert list(avg["n_repetitions"].values[:1]) == [int((~np.isnan(raw[0, 0])).sum())]
    first = a.isel(presentation=a["stimulus_id"].values == "image0002")
    np.testing.assert_allclose(first.values[:, 3, 0], raw[3, 1][~np.isnan(raw[3, 1])])


def test_split_half_ceiling_matches_independent_numpy(folder):
    """Global halves of the 10 repeat slots, as documented in splits.repetition_halves."""
    raw = np.load(folder / "responses_raw.npy")  # (neurons, images, slots)
    rng = np.random.default_rng(0)
    corrected = []
    for _ in range(10):
        perm = rng.permutation(raw.shape[2])
        halves = [np.nanmean(raw[:, :, perm[:5]], axis=2), np.nanmean(raw[:, :, perm[5:]], axis=2)]
        r = np.array([np.corrcoef(halves[0][j], halves[1][j])[0, 1] for j in range(raw.shape[0])])
        corrected.append(2 * r / (1 + r))
    corrected = np.array(corrected)  # (splits, neurons)
    c = split_half_consistency(load_cowley2023(folder), n_splits=10, random_state=0)
    np.testing.assert_allclose(c["corrected"][:, :, 0], corrected, atol=1e-10)
    np.testing.assert_allclose(c["per_neuroid"][:, 0], corrected.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(c["ceiling"][0], np.median(corrected, axis=1).mean(), atol=1e-10)
    # the README's "median split-half reliability of single neurons, r = 0.61" (before Spearman-Brown)
    assert abs(np.median(c["r_half"].mean(axis=0)) - 0.61) < 0.03


def test_pixel_pca_predictivity_between_zero_and_ceiling(folder):
    ids, images = load_cowley2023_images(folder, grayscale=True)
    assert images.shape == (640, 112, 112)
    pixels = images.reshape(len(ids), 56, 2, 56, 2).mean(axis=(2, 4)).reshape(len(ids), -1) / 255.0
    ds = fit_neural(pixels, load_cowley2023(folder), stimulus_ids=ids, pca=100, n_splits=3)
    score, ceiling = float(ds["score"][0]), float(ds["ceiling"][0])
    assert 0.05 < score < ceiling
    assert 0.0 < float(ds["ceiled"][0]) < 1.0 and float(ds["ceiled_r_over_c"][0]) < 1.0
    assert ds.attrs["pca"].startswith("100 components")
