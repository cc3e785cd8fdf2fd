"""Decoding over time, latency and object solution times on simulated populations with a known truth.

The simulated IT population (``convrnn_tf.analysis.simulate``) carries object identity from a known onset
on (a near-step rise); challenge images carry it ``DELAY`` ms later. The analyses must recover the onset,
the delay and chance-level behaviour of shuffled labels within one 10-ms bin.
"""

import numpy as np
import pytest

from convrnn_tf import analysis as A

ONSET, DELAY, BIN = 87.0, 30.0, 10.0
TIMES = np.arange(60.0, 250.0, BIN)
SIZE = dict(n_classes=8, images_per_class=12, n_neurons=30)  # 96 images


@pytest.fixture(scope="module")
def sim():
    return A.simulate_population(**SIZE, time_bins=TIMES, onset=ONSET, delay=DELAY, rise=1.0, signal=2.0,
                                 seed=3)


@pytest.fixture(scope="module")
def decoded(sim):
    return A.decode_over_time(sim.responses, sim.labels, sim.time_bins, stimulus_ids=sim.stimulus_ids,
                              n_splits=4, seed=0)


def test_decoding_outputs_and_chance(decoded, sim):
    r = decoded
    assert r.probabilities.shape == (1, 96, len(TIMES), 8) and r.predicted.shape == (1, 96, len(TIMES))
    np.testing.assert_allclose(r.probabilities.sum(-1), 1.0, atol=1e-5)
    assert r.chance == pytest.approx(1 / 8)
    # every stimulus held out exactly once, classes balanced across folds
    assert sorted(np.bincount(r.fold[0])) == [24] * 4
    pre, post = TIMES < ONSET, TIMES >= ONSET + DELAY + BIN
    assert abs(r.accuracy[pre].mean() - r.chance) < 0.05
    assert r.accuracy[post].min() > 0.9 and r.dprime[post].min() > 2.5
    assert abs(r.dprime[pre].mean()) < 0.3
    assert r.correct_probability[0, :, post].mean() > 0.5
    # challenge images are at chance between the two onsets, control images are decoded
    mid = (TIMES >= ONSET + BIN) & (TIMES < ONSET + DELAY)
    assert r.subset(~sim.challenge).accuracy[mid].min() > 0.8
    assert r.subset(sim.challenge).accuracy[mid].max() < 0.3
    assert r.split_scores().shape == (4, len(TIMES))


def test_shuffled_labels_give_chance_and_no_latency(decoded):
    sh = decoded.shuffled
    assert abs(sh.accuracy.mean() - sh.chance) < 0.03
    assert abs(sh.dprime.mean()) < 0.2
    for metric in ("accuracy", "dprime"):
        lat = A.decoding_latency(sh, metric=metric, n_boot=50)
        assert np.isnan(lat.latency) and np.all(np.isnan(lat.ci))
    assert np.isnan(A.decoding_latency(sh, criterion="peak_fraction", n_boot=0).latency)


@pytest.mark.parametrize("metric", ["accuracy", "dprime"])
def test_latency_recovers_onset(decoded, metric):
    lat = A.decoding_latency(decoded, metric=metric, n_boot=200)
    assert abs(lat.latency - ONSET) <= BIN
    lo, hi = lat.ci
    assert lo <= lat.latency <= hi and hi - lo <= 2 * BIN
    assert lat.boot_reached > 0.95


def test_latency_difference_recovers_challenge_delay(decoded, sim):
    diff = A.latency_difference(decoded, ~sim.challenge, sim.challenge, n_boot=200)
    assert abs(diff.a.latency - ONSET) <= BIN and abs(diff.b.latency - (ONSET + DELAY)) <= BIN
    assert abs(diff.difference - DELAY) <= BIN
    assert diff.ci[0] <= diff.difference <= diff.ci[1]


def test_ost_recovers_challenge_delay(decoded, sim):
    ost = A.ost_from_decoding(decoded)  # Kar 2019 bins 70-250 ms
    assert ost.shape == (1, 96)
    assert np.isfinite(ost).mean() > 0.95
    comp = A.compare_groups(ost, sim.challenge, n_boot=500)
    assert abs(comp.medians[0] - ONSET) <= BIN and abs(comp.medians[1] - (ONSET + DELAY)) <= BIN
    assert abs(comp.difference - DELAY) <= BIN
    assert comp.ci[0] < comp.difference < comp.ci[1] and comp.ci[0] > 0
    # a flag given as a table column (named, with a non-boolean positive value) gives the same result
    table = {"image_type": np.where(sim.challenge, "challenge", "control")}
    comp2 = A.compare_groups(ost, "image_type", table=table, positive="challenge", n_boot=500)
    assert comp2.difference == comp.difference


def test_ost_targets_and_model_vs_neural_correlation(decoded, sim):
    # per-image behavioural targets: an unreachable one gives NaN, a NaN target gives NaN
    target = np.full(96, 2.0)
    target[:3] = [99.0, np.nan, 2.0]
    ost = A.ost_from_decoding(decoded, target=target)
    assert np.isnan(ost[0, 0]) and np.isnan(ost[0, 1]) and np.isfinite(ost[0, 2])
    # a "model" with the same per-image onsets (plus jitter shared with the neural side) correlates
    jitter = np.random.default_rng(5).uniform(-9, 9, 96)
    shared = dict(SIZE, time_bins=TIMES, challenge=sim.challenge)
    neural = A.simulate_population(**shared, onsets=sim.onsets + jitter, seed=11)
    model = A.simulate_population(**shared, onsets=sim.onsets + jitter + 5, seed=12)
    kw = dict(n_splits=4, shuffle_control=False, select=A.KAR2019_TIME_BINS)
    o_n = A.ost_from_decoding(A.decode_over_time(neural.responses, neural.labels, TIMES, **kw))
    res_m = A.decode_over_time(model.responses, model.labels, TIMES, **kw)
    o_m = A.ost_from_decoding(res_m)
    corr = A.ost_correlation(o_m, o_n, folds=res_m.fold)
    assert corr.rho.shape == (4,) and corr.mean > 0.6 and corr.n_images.sum() > 80
    shuffled = A.ost_correlation(o_m, np.random.default_rng(0).permutation(o_n[0]))
    assert abs(shuffled.mean) < 0.3


def test_errors_name_the_culprit(sim):
    x, y = sim.responses[:, :, :6], sim.labels
    with pytest.raises(ValueError, match="time bins .*300.* missing"):
        A.decode_over_time(x, y, TIMES[:6], select=[40, 300], n_splits=4)
    small = A.decode_over_time(x[:64], y[:64], np.arange(6), n_splits=4, shuffle_control=False)
    with pytest.raises(ValueError, match="time bins .*70.* missing"):
        A.ost_from_decoding(small)  # model time steps 0..5 lack Kar's 70-250 ms bins
    with pytest.raises(ValueError, match="two classes"):
        A.decode_over_time(x, np.array(["obj0"] * len(y)), TIMES[:6])
    few = np.flatnonzero(y == "obj3")[:8]  # leaves 4 stimuli of obj3
    keep = np.setdiff1d(np.arange(len(y)), few)
    with pytest.raises(ValueError, match=r"too few stimuli per class.*obj3.*: 4"):
        A.decode_over_time(x[keep], y[keep], TIMES[:6], n_splits=5)
    with pytest.raises(ValueError, match="time_bins"):
        A.decode_over_time(x, y, TIMES[:5])
    ost = np.linspace(80, 120, len(y))
    with pytest.raises(ValueError, match="'challenge' not found"):
        A.compare_groups(ost, "challenge", table={"image_type": np.zeros(len(y))})
    with pytest.raises(ValueError, match="'challenge' has no images"):
        A.compare_groups(ost, np.zeros(len(y), bool))
    with pytest.raises(ValueError, match="more than one label"):
        A.decode_over_time(x[:4], ["a", "b", "a", "b"], stimulus_ids=["s", "s", "t", "u"], n_splits=2)


def test_first_crossing_interpolation():
    t = np.array([0.0, 10, 20, 30, 40])
    v = np.array([0.0, 1.0, 0.5, 2.0, 3.0])
    assert A.first_crossing(t, v, 1.25) == pytest.approx(20 + 10 * 0.75 / 1.5)  # from the previous bin
    assert A.first_crossing(t, v, 1.25, anchor="max_below") == pytest.approx(10 + 20 * 0.25 / 1.0)
    assert A.first_crossing(t, v, -1.0) == 0.0 and np.isnan(A.first_crossing(t, v, 3.5))
    assert A.first_crossing(t, [0, 2, 0, 2, 2], 1.0, min_consecutive=2) == pytest.approx(25.0)
    both = A.first_crossing(t, np.stack([v, v + 1]), np.array([1.25, 1.25]))
    assert both.shape == (2,) and both[1] == pytest.approx(10 * 0.25 / 1.0)


def test_sliding_window_and_svm(sim):
    x = sim.responses[:64, :, 10:14]  # 140-170 ms: every image carries its identity
    r = A.decode_over_time(x, sim.labels[:64], TIMES[10:14], n_splits=4, decoder="svm", window=3,
                           shuffle_control=False)
    np.testing.assert_allclose(r.probabilities.sum(-1), 1.0, atol=1e-5)
    assert r.accuracy.min() > 0.9
    w = A.decoding.causal_window(np.arange(5.0)[None, None], 3)[0, 0]
    np.testing.assert_allclose(w, [0.0, 0.5, 1.0, 2.0, 3.0])  # mean of the last <= 3 bins
    with pytest.raises(ValueError, match="decoder"):
        A.decode_over_time(x, sim.labels[:64], n_splits=4, decoder="mlp")


def test_repeated_presentations_are_grouped_by_stimulus(sim):
    # every image shown twice: folds keep both presentations together, OSTs come per image
    noise = np.random.default_rng(0).normal(0, 1, sim.responses.shape)
    x = np.concatenate([sim.responses, sim.responses + noise])[:, :, :6]
    ids, labels = np.tile(sim.stimulus_ids, 2), np.tile(sim.labels, 2)
    r = A.decode_over_time(x, labels, TIMES[:6], stimulus_ids=ids, n_splits=4, shuffle_control=False)
    assert np.all(r.fold[0, :96] == r.fold[0, 96:])
    got_ids, first, index = r.stimuli()
    np.testing.assert_array_equal(got_ids, sim.stimulus_ids)
    np.testing.assert_array_equal(index, np.tile(np.arange(96), 2))
    d = A.image_dprime_over_time(r)
    assert d.shape == (1, 96, 6)
    assert A.ost_from_decoding(r, select=None).shape == (1, 96)
