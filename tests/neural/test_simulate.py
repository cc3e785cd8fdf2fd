"""Simulated recordings (convrnn_tf.neural.simulate): known ceiling, late IT needs the recurrent latents."""

import numpy as np
import pytest

from convrnn_tf.neural import TimeMapping, fit_neural, split_half_consistency, validate_assembly
from convrnn_tf.neural.simulate import simulate_recording


def small_stimuli(n_cat=4, per_cat=24, size=16, seed=0):
    rng = np.random.default_rng(seed)
    n = n_cat * per_cat
    images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    cat = np.repeat([f"c{i}" for i in range(n_cat)], per_cat)
    obj = np.array([f"{c}_{i % 4}" for i, c in enumerate(cat)])
    return images, {"image_id": np.array([f"im{i:03d}" for i in range(n)]), "object_name": obj, "category_name": cat}


@pytest.fixture(scope="module")
def sim():
    images, meta = small_stimuli(n_cat=8, per_cat=32)
    return simulate_recording(images, meta, seed=1, n_v4=20, n_it=30, n_reps=8)


def test_layout_and_truth(sim):
    a = validate_assembly(sim.assembly)
    assert a.dims == ("presentation", "neuroid", "time_bin")
    assert a.sizes["time_bin"] == 19 and a["time_bin_start"].values[0] == 70 and a["time_bin_end"].values[-1] == 260
    for c in ("stimulus_id", "object_name", "category_name", "repetition", "region", "neuroid_id"):
        assert c in a.coords
    assert set(a["region"].values) == {"V4", "IT"}
    assert sim.ceiling.shape == (50, 19) and set(sim.latents) == {"V4", "IT", "IT_feedforward"}
    assert sim.latents["IT"].shape[:2] == (256, 26)
    again = simulate_recording(sim.images, sim.metadata, seed=1, n_v4=20, n_it=30, n_reps=8)
    np.testing.assert_array_equal(again.assembly.values, sim.assembly.values)


def test_estimated_ceiling_matches_truth(sim):
    c = split_half_consistency(sim.assembly, n_splits=10, random_state=0)
    assert np.abs(c["per_neuroid"] - sim.ceiling).mean() < 0.04
    region = sim.assembly["region"].values
    for r in ("V4", "IT"):
        est = np.median(c["per_neuroid"][region == r], axis=0)
        assert np.abs(est - sim.ceiling_median[r]).max() < 0.08, r


def test_late_it_needs_recurrent_latents(sim):
    kw = dict(stimulus_ids=sim.stimulus_id, region="IT", n_splits=2, ceiling=False, n_components=10)
    true = fit_neural(sim.latents["IT"], sim.assembly, **kw)
    v4 = fit_neural(sim.latents["V4"], sim.assembly, **kw)
    early = fit_neural(sim.latents["IT"], sim.assembly, time_mapping=TimeMapping("same", step=10), **kw)
    late = sim.assembly["time_bin_start"].values >= 200
    assert true["score"].values[late].mean() > 0.7
    assert true["score"].values[late].mean() > v4["score"].values[late].mean() + 0.2
    assert true["score"].values[late].mean() > early["score"].values[late].mean() + 0.2
    # early bins: the feedforward stage explains IT about as well as the full latents
    assert abs(true["score"].values[2] - early["score"].values[2]) < 0.1


def test_bad_inputs():
    images, meta = small_stimuli()
    with pytest.raises(ValueError, match="n_reps"):
        simulate_recording(images, meta, n_reps=1)
    with pytest.raises(ValueError, match="category_name"):
        simulate_recording(images, {"object_name": meta["object_name"]})
