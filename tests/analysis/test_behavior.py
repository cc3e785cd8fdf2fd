"""I1/I2 (+ normalised), split-half reliability and consistency against a NumPy reference.

The reference below is written from the definitions (Rajalingham et al. 2018; shared/docs/neural-fitting.md
section 5) with explicit loops over images, distractors and trials, independently of the library's
vectorised tables.
"""

import numpy as np
import pytest
from scipy.stats import norm

from convrnn_tf import analysis as A

CLIP = 5.0


# -- reference -----------------------------------------------------------------------------------
def ref_dprime(hr, far):
    z = lambda p: float(np.clip(norm.ppf(p), -CLIP, CLIP))  # noqa: E731  (z limited, then d' clipped)
    return float(np.clip(z(hr) - z(far), -CLIP, CLIP))


def ref_metrics(stim, truth, dist, choice):
    """I1, I2, I1n, I2n from trial rows; images = sorted unique stim, classes = sorted unique labels."""
    images, classes = sorted(set(stim)), sorted(set(truth) | set(dist))
    label = {s: truth[stim == s][0] for s in images}
    correct = choice == truth
    i1 = np.full(len(images), np.nan)
    i2 = np.full((len(images), len(classes)), np.nan)
    for a, s in enumerate(images):
        c = label[s]
        mine = stim == s
        # FAR of the target class c: trials of other objects with c as distractor where c was chosen
        fa_trials = (truth != c) & (dist == c)
        far = np.sum(fa_trials & (choice == c)) / np.sum(fa_trials)
        i1[a] = ref_dprime(correct[mine].mean(), far)
        for b, o in enumerate(classes):
            cell = mine & (dist == o)
            if o == c or not cell.any():
                continue
            fa = (truth == o) & (dist == c)
            if not fa.any():
                continue
            i2[a, b] = ref_dprime(correct[cell].mean(), np.sum(fa & (choice == c)) / np.sum(fa))
    labs = np.array([label[s] for s in images])
    i1n, i2n = i1.copy(), i2.copy()
    for c in classes:
        m = labs == c
        i1n[m] = i1[m] - np.nanmean(i1[m])
        for b in range(len(classes)):
            col = i2[m, b]
            if np.isfinite(col).any():
                i2n[m, b] = col - np.nanmean(col)
    return {"i1": i1, "i2": i2, "i1n": i1n, "i2n": i2n}


def ref_corr(x, y):
    ok = np.isfinite(x) & np.isfinite(y)
    return np.corrcoef(x[ok], y[ok])[0, 1]


@pytest.fixture(scope="module")
def trials():
    """Two subjects' trials on 6 classes x 5 images, unequal trial counts, some empty cells."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 5)
    z = 2.0 * np.eye(6)[labels] + rng.normal(0, 1.0, (30, 6))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    out = []
    for seed in (1, 2):
        t = A.simulate_choices(p, labels, trials_per_pair=8, seed=seed)
        keep = np.random.default_rng(seed).random(len(t["choice"])) < 0.8  # unequal counts, empty cells
        out.append({k: (np.array([f"im{v:02d}" for v in c[keep]]) if k == "stimulus_id" else c[keep])
                    for k, c in t.items()})
    return out, p, labels


@pytest.mark.parametrize("metric", ["i1", "i2", "i1n", "i2n"])
def test_metrics_match_reference(trials, metric):
    (t, _), _, _ = trials
    beh = A.from_trials(t)
    got = beh.metric(metric)
    ref = ref_metrics(t["stimulus_id"], t["truth"], t["distractor"], t["choice"])[metric]
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got[np.isfinite(got)], ref[np.isfinite(ref)], atol=1e-10)
    assert np.all(np.abs(got[np.isfinite(got)]) <= CLIP)


def test_probability_metrics_match_reference(trials):
    _, p, labels = trials
    beh = A.from_probabilities(p, labels)
    q = np.array([[p[i, labels[i]] / (p[i, labels[i]] + p[i, o]) for o in range(6)] for i in range(30)])
    for i in range(30):
        c = labels[i]
        others = [o for o in range(6) if o != c]
        far = np.mean([1 - q[j, c] for j in range(30) if labels[j] != c])
        assert beh.i1()[i] == pytest.approx(ref_dprime(np.mean(q[i, others]), far), abs=1e-10)
        for o in others:
            far_o = np.mean([1 - q[j, c] for j in range(30) if labels[j] == o])
            assert beh.i2()[i, o] == pytest.approx(ref_dprime(q[i, o], far_o), abs=1e-10)
    # leading dims (e.g. time) give the same values per slice; class names work as labels
    stacked = A.from_probabilities(np.stack([p, p[::-1]]), labels)
    np.testing.assert_allclose(stacked.i1()[0], beh.i1())
    named = A.from_probabilities(p, np.array(list("abcdef"))[labels], classes=list("abcdef"))
    np.testing.assert_allclose(named.metric("i2n"), beh.metric("i2n"))


@pytest.mark.parametrize("metric", ["i1n", "i2n"])
def test_consistency_matches_reference(trials, metric):
    (ta, tb), p, labels = trials
    niter, seed = 4, 7
    got = A.consistency(ta, tb, metric=metric, niter=niter, seed=seed)
    ma = A.split_half_masks(ta["stimulus_id"], niter, seed)
    mb = A.split_half_masks(tb["stimulus_id"], niter, seed + 1)
    for it in range(niter):
        halves = []
        for t, m in ((ta, ma[it]), (tb, mb[it])):
            for h in (m, ~m):
                sub = {k: v[h] for k, v in t.items()}
                r = ref_metrics(sub["stimulus_id"], sub["truth"], sub["distractor"], sub["choice"])[metric]
                full = sorted(set(t["stimulus_id"]))
                lay = np.full((len(full),) + r.shape[1:], np.nan)
                lay[[full.index(s) for s in sorted(set(sub["stimulus_id"]))]] = r
                halves.append(lay)
        a0, a1, b0, b1 = halves
        ok = np.isfinite(a0) & np.isfinite(a1) & np.isfinite(b0) & np.isfinite(b1)
        a0, a1, b0, b1 = (np.where(ok, v, np.nan).ravel() for v in (a0, a1, b0, b1))
        rho = 0.5 * (ref_corr(a0, b1) + ref_corr(a1, b0))
        ic_a, ic_b = ref_corr(a0, a1), ref_corr(b0, b1)
        assert got.rho[it] == pytest.approx(rho, abs=1e-10)
        assert got.ic_a[it] == pytest.approx(ic_a, abs=1e-10)
        assert got.ic_b[it] == pytest.approx(ic_b, abs=1e-10)
        assert got.rho_n[it] == pytest.approx(rho / np.sqrt(ic_a * ic_b), abs=1e-10)
    # halves: each stimulus's trials split floor(n/2) / ceil(n/2)
    for s in set(ta["stimulus_id"]):
        n = np.sum(ta["stimulus_id"] == s)
        assert np.sum(ma[0][ta["stimulus_id"] == s]) == n // 2


def test_model_consistency_and_reliability(trials):
    (ta, _), p, labels = trials
    ids = np.array([f"im{i:02d}" for i in range(30)])
    model = A.from_probabilities(p, labels, images=ids)  # the generating probabilities
    c = A.consistency(model, ta, metric="i1n", niter=3)
    np.testing.assert_allclose(c.ic_a, 1.0)
    assert c.value > 0.7
    rel = A.split_half_reliability(ta, "i1n", niter=3, seed=1)  # b is split with seed + 1
    np.testing.assert_allclose(rel, c.ic_b)
    # a model with unrelated probabilities is not consistent
    other = A.from_probabilities(np.random.default_rng(9).dirichlet(np.ones(6), 30), labels, images=ids)
    assert abs(A.consistency(other, ta, metric="i1n", niter=3).value) < 0.5


def test_behavior_errors(trials):
    (ta, _), p, labels = trials
    with pytest.raises(ValueError, match="distractor column"):
        A.from_trials({k: v for k, v in ta.items() if k != "distractor"})
    rj = {"image_id": ta["stimulus_id"], "sample_obj": ta["truth"], "dist_obj": ta["distractor"],
          "choice": ta["choice"]}  # Rajalingham column names are found
    np.testing.assert_allclose(A.from_trials(rj).metric("i2"), A.from_trials(ta).metric("i2"))
    with pytest.raises(ValueError, match="stimulus column 'img'"):
        A.from_trials(ta, columns={"stimulus": "img"})
    with pytest.raises(ValueError, match="two classes"):
        A.from_probabilities(p[:, :1], np.zeros(30, int))
    bad = dict(ta, choice=np.full(len(ta["choice"]), 99))
    with pytest.raises(ValueError, match="neither the truth nor the distractor"):
        A.from_trials(bad)
    with pytest.raises(ValueError, match="metric"):
        A.from_trials(ta).metric("o2")
