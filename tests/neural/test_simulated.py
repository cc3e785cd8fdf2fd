"""Simulated recordings with known ground truth: latent features -> linear responses + known trial noise.

Per time bin t, stimulus i and neuroid j: mu[i, j, t] = Z_t[i] . W_t[:, j] + 5; each of n_rep trials adds
Gaussian noise of SD sigma[j, t], chosen so that the true reliability of the repetition average,
rho = var_i(mu) / (var_i(mu) + sigma^2 / n_rep), spans 0.3-0.95 across neuroids. The two bins use
different latents, so a model whose features hold only the first bin's latents fails on the second.
"""

import numpy as np
import pandas as pd
import pytest

from convrnn_tf.neural import (CONVENTIONS, TimeMapping, fit_neural, make_assembly, results_to_csv,
                               split_half_consistency)


def simulate(seed=0, n_obj=8, per_obj=40, d=6, q=40, n_rep=8, bins=((70, 80), (80, 90))):
    rng = np.random.default_rng(seed)
    n, T = n_obj * per_obj, len(bins)
    obj = np.repeat(np.arange(n_obj), per_obj)
    Z = rng.normal(size=(T, n, d)) + 0.5 * rng.normal(size=(T, n_obj, d))[:, obj]
    W = rng.normal(size=(T, d, q)) / np.sqrt(d)
    mu = np.einsum("tnd,tdq->nqt", Z, W) + 5.0
    signal = mu.var(axis=0)
    target = rng.uniform(0.3, 0.95, size=(q, 1))
    sigma = np.sqrt(signal * n_rep * (1 - target) / target)
    trials = mu[:, None] + sigma * rng.normal(size=(n, n_rep, q, T))
    true_rel = signal / (signal + sigma ** 2 / n_rep)
    ids = np.array([f"img{i:04d}" for i in range(n)])
    assembly = make_assembly(
        trials.reshape(n * n_rep, q, T), np.repeat(ids, n_rep), [f"n{j}" for j in range(q)],
        [b[0] for b in bins], [b[1] for b in bins], repetition=np.tile(np.arange(n_rep), n),
        object_name=np.repeat([f"o{o}" for o in obj], n_rep),
        category_name=np.repeat([f"c{o // 2}" for o in obj], n_rep), region="IT")
    return assembly, np.moveaxis(Z, 0, 1), ids, true_rel


@pytest.fixture(scope="module")
def sim():
    return simulate()


CONVRNN = TimeMapping(step_ms=10.0, offset_ms=70.0)  # step t <-> bin [70 + 10 t, 80 + 10 t)


def test_ceiling_matches_true_reliability(sim):
    assembly, _, _, true_rel = sim
    for per_stimulus in (False, True):
        c = split_half_consistency(assembly, n_splits=10, random_state=0, per_stimulus=per_stimulus)
        assert c["per_neuroid"].shape == true_rel.shape
        assert np.abs(c["per_neuroid"] - true_rel).mean() < 0.035
        assert np.abs(c["ceiling"] - np.median(true_rel, axis=0)).max() < 0.03
        assert np.corrcoef(c["per_neuroid"].ravel(), true_rel.ravel())[0, 1] > 0.9


def test_latent_features_score_near_ceiling_and_shuffled_near_zero(sim, tmp_path):
    assembly, feats, ids, true_rel = sim
    ds = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=CONVRNN, n_splits=4,
                    mapping_consistency=True, mapping_halves=3)
    # predicting the repetition average at best reaches r = sqrt(reliability), so r^2 / c -> 1
    assert np.all(np.abs(ds["ceiled_r2_over_c"].values - 1.0) < 0.1)
    assert np.all(np.abs(ds["score"].values - np.sqrt(np.median(true_rel, axis=0))) < 0.05)
    assert np.all(np.abs(ds["score_mapping_corrected"].values - 1.0) < 0.15)
    assert ds.attrs["ceiling_convention"] == "r^2/c"
    np.testing.assert_allclose(ds["ceiled"], ds["ceiled_r2_over_c"])
    r, c = ds["score"].values, ds["ceiling"].values
    np.testing.assert_allclose(ds[CONVENTIONS["r/c"][0]], r / c)
    np.testing.assert_allclose(ds[CONVENTIONS["(r/c)^2"][0]], (r / c) ** 2)
    assert np.all(ds["score_sem"].values > 0) and np.all(ds["score_sem"].values < 0.05)
    shuffled = fit_neural(feats[np.random.default_rng(1).permutation(len(ids))], assembly, stimulus_ids=ids,
                          time_mapping=CONVRNN, n_splits=3, ceiling=False)
    assert np.all(np.abs(shuffled["score"].values) < 0.1)
    path = results_to_csv(ds, tmp_path / "scores.csv")
    table = pd.read_csv(path, comment="#")
    assert list(table["time_bin_start"]) == [70.0, 80.0]
    np.testing.assert_allclose(table["ceiled"], ds["ceiled"].values)
    assert "# ceiling_convention: r^2/c" in open(path).read()
    per_neuroid = pd.read_csv(results_to_csv(ds, tmp_path / "n.csv", per_neuroid=True), comment="#")
    assert len(per_neuroid) == 40 * 2 and {"neuroid_id", "ceiling"} <= set(per_neuroid.columns)


def test_time_mapping_feedforward_vs_one_to_one(sim):
    assembly, feats, ids, _ = sim
    ff = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=TimeMapping("same", step=0),
                    n_splits=3, ceiling=False)
    static = fit_neural(feats[:, 0], assembly, stimulus_ids=ids, n_splits=3, ceiling=False)
    one = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=CONVRNN, n_splits=3, ceiling=False)
    np.testing.assert_allclose(ff["score"], static["score"], atol=1e-10)
    assert one["score"].values[1] > 0.7 and ff["score"].values[1] < 0.2
    assert abs(one["score"].values[0] - ff["score"].values[0]) < 1e-10
    windowed = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=CONVRNN, n_splits=3,
                          windows=[(70, 80), (70, 90)], ceiling=False)
    assert list(windowed["time_bin_kind"].values) == ["bin", "bin", "window", "window"]
    np.testing.assert_allclose(windowed["score"].values[2], one["score"].values[0], atol=1e-10)


def test_held_out_objects_and_neurons(sim):
    assembly, feats, ids, _ = sim
    objs = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=CONVRNN, splits="objects", n_splits=4)
    assert np.all(objs["ceiled"].values > 0.85)
    cv = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=CONVRNN, n_splits=3, neuron_folds=2,
                    grid=[1, 2, 4, 6, 25], ceiling=False)
    assert cv["chosen"].shape == (3, 2, 2)
    assert np.all(cv["chosen"].values == 6)  # 6 latents: capped at the feature rank, and needed
    assert set(np.unique(cv["neuron_fold"].values)) == {0, 1}
    assert np.all(cv["score"].values > 0.8)
    ridge = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=CONVRNN, n_splits=3, neuron_folds=2,
                       regression="ridge", grid=[1e-2, 1.0, 1e6], ceiling=False)
    assert set(np.unique(ridge["chosen"].values)) <= {1e-2, 1.0, 1e6} and np.all(ridge["score"].values > 0.8)
