"""Spike binning, pseudo-populations and the labelled-array (xarray-like) input path."""

import numpy as np
import pytest

from convrnn_tf import analysis as A


def test_bin_spikes_matches_manual_sums():
    rng = np.random.default_rng(0)
    raster = (rng.random((3, 4, 300)) < 0.05).astype(np.uint8)  # [trials, units, 1-ms samples], t0 = -50
    counts, starts = A.bin_spikes(raster, 10, t0=-50)
    assert counts.shape == (3, 4, 30) and starts[0] == -50 and starts[-1] == 240
    np.testing.assert_array_equal(counts[1, 2, 5], raster[1, 2, 50:60].sum())
    sub, s2 = A.bin_spikes(raster, 10, t0=-50, window=(70, 250))
    np.testing.assert_array_equal(s2, A.KAR2019_TIME_BINS)
    np.testing.assert_array_equal(sub, counts[..., 12:30])
    rate, _ = A.bin_spikes(raster, 10, t0=-50, window=(70, 250), rate=True)
    np.testing.assert_allclose(rate, sub * 100.0)
    with pytest.raises(ValueError, match=r"time bins \[250, 260\] fall outside"):
        A.bin_spikes(raster, 10, t0=-50, window=(70, 270))
    # spike times give the same counts as the raster they come from
    times = [np.flatnonzero(raster[k, 0]) - 50.0 + 0.5 for k in range(3)]
    tc, _ = A.bin_spike_times(times, (70, 250), 10)
    np.testing.assert_array_equal(tc, sub[:, 0])


def test_pseudo_population_matches_conditions():
    rng = np.random.default_rng(1)
    sessions = []
    for k, n_units in enumerate((2, 3)):  # two sessions, different trial orders and counts, extra conditions
        labels = rng.permutation(np.repeat(["a", "b", "c", f"only{k}"], 6 + k))
        code = np.array([{"a": 1.0, "b": 2.0, "c": 3.0}.get(v, 9.0) for v in labels])
        counts = code[:, None, None] * (np.arange(n_units) + 1)[None, :, None] * np.ones((1, 1, 4))
        counts += 0.01 * np.arange(len(labels))[:, None, None]  # trial identity, to check the draws
        sessions.append((counts, labels))
    x, cond, unit_session = A.pseudo_population(sessions, n_pseudo=5, seed=0)
    assert x.shape == (15, 5, 4) and list(unit_session) == [0, 0, 1, 1, 1]
    assert sorted(set(cond)) == ["a", "b", "c"]
    for row, c in zip(x, cond):
        value = {"a": 1, "b": 2, "c": 3}[c]
        np.testing.assert_allclose(np.round(row[:, 0] / [1, 2, 1, 2, 3]), value)
    # trials of one session are drawn without replacement while enough remain
    first_session_trials = np.round((x[cond == "a", 0, 0] - 1.0) / 0.01)
    assert len(set(first_session_trials)) == 5
    avg, cond_avg, _ = A.pseudo_population(sessions, average=True)
    assert avg.shape == (3, 5, 4) and list(cond_avg) == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"session 1 has no trials of condition\(s\) \['only0'\]"):
        A.pseudo_population(sessions, conditions=["a", "only0"])


class FakeDataArray:
    """The part of xarray.DataArray the analyses use (xarray itself is optional)."""

    class _C:
        def __init__(self, v):
            self.values = np.asarray(v)

    def __init__(self, values, dims, coords):
        self.values, self.dims = np.asarray(values), tuple(dims)
        self.coords = {k: self._C(v) for k, v in coords.items()}
        self.sizes = dict(zip(self.dims, self.values.shape))

    def transpose(self, *dims):
        order = [self.dims.index(d) for d in dims]
        coords = {k: c.values for k, c in self.coords.items()}
        return FakeDataArray(self.values.transpose(order), dims, coords)


def test_labelled_array_input():
    sim = A.simulate_population(n_classes=2, images_per_class=8, n_neurons=20, time_bins=[70, 80, 90, 100],
                                onset=75, delay=0.0, signal=3.0, seed=0)
    da = FakeDataArray(sim.responses.transpose(2, 0, 1), ("time_bin", "presentation", "neuroid"),
                       {"time_bin_start": sim.time_bins, "object_name": sim.labels,
                        "stimulus_id": sim.stimulus_ids})
    x, t = A.as_responses(da)
    np.testing.assert_array_equal(x, sim.responses)
    np.testing.assert_array_equal(t, sim.time_bins)
    r = A.decode_over_time(da, "object_name", stimulus_ids="stimulus_id", n_splits=4, shuffle_control=False)
    np.testing.assert_array_equal(r.times, sim.time_bins)
    assert r.accuracy[-1] > 0.9
    with pytest.raises(ValueError, match="coordinate 'category_name' not found"):
        A.decode_over_time(da, "category_name", n_splits=4)
    with pytest.raises(ValueError, match="names a coordinate"):
        A.decode_over_time(sim.responses, "object_name", n_splits=4)
    with pytest.raises(ValueError, match=r"lack dims \['neuroid'\]"):
        A.as_responses(FakeDataArray(np.zeros((2, 3)), ("presentation", "time_bin"), {}))
