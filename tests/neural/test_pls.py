"""Kernel PLS / ridge equal scikit-learn's estimators; fit_neural scores equal a naive sklearn loop."""

import warnings

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import Ridge

from convrnn_tf.neural import (TimeMapping, center_gram, compute_grams, fit_neural, image_splits, kernel_pls,
                               kernel_ridge, make_assembly, pearson_columns)


def _data(n, p, q, seed, offset=3.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ (0.2 * rng.normal(size=(p, p)) if p <= 200 else np.eye(p))
    X = X + rng.normal(size=(n, p)) + offset
    Y = X[:, :4] @ rng.normal(size=(4, q)) + 2.0 * rng.normal(size=(n, q))
    idx = rng.permutation(n)
    return X, Y, np.sort(idx[: int(0.75 * n)]), np.sort(idx[int(0.75 * n):])


def _sk_pls(X, Y, tr, te, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PLSRegression(n_components=k, scale=False).fit(X[tr], Y[tr])
    return model.predict(X[te]).reshape(len(te), -1), model.n_iter_


@pytest.mark.parametrize("n,p,q,k", [(120, 40, 8, 25), (90, 400, 12, 25), (80, 300, 1, 10), (40, 30, 5, 20)])
def test_kernel_pls_equals_sklearn(n, p, q, k):
    X, Y, tr, te = _data(n, p, q, seed=n + p)
    Xc = X - X.mean(axis=0)
    K_tr, K_te = center_gram((Xc @ Xc.T)[None], tr, te)
    ks = sorted({1, k // 2, k})
    pred, info = kernel_pls(K_tr, K_te, Y[tr][None], n_components=k, components=ks)
    for j, kk in enumerate(ks):
        ref, n_iter = _sk_pls(X, Y, tr, te, kk)
        np.testing.assert_allclose(pred[0, j], ref, atol=1e-8 * np.abs(ref).max())
    assert info["n_iter"][0].tolist() == list(n_iter)
    r_ours, r_ref = pearson_columns(pred[0, -1], Y[te]), pearson_columns(ref, Y[te])
    np.testing.assert_allclose(r_ours, r_ref, atol=1e-10)


def test_kernel_pls_constant_target_column_and_batching():
    X, Y, tr, te = _data(100, 60, 6, seed=7)
    Y[:, 2] = 4.0  # a silent neuroid
    X2, Y2, _, _ = _data(100, 60, 6, seed=8)
    grams = []
    for x in (X, X2):
        xc = x - x.mean(axis=0)
        grams.append(xc @ xc.T)
    K_tr, K_te = center_gram(np.stack(grams), tr, te)
    Yb = np.stack([Y[tr], Y2[tr], Y2[tr]])
    pred, _ = kernel_pls(K_tr, K_te, Yb, gram_index=[0, 1, 0], n_components=15)
    for b, (x, y) in enumerate([(X, Y), (X2, Y2), (X, Y2)]):
        ref, _ = _sk_pls(x, y, tr, te, 15)
        np.testing.assert_allclose(pred[b, 0], ref, atol=1e-8 * np.abs(ref).max())


def test_kernel_ridge_equals_sklearn():
    X, Y, tr, te = _data(90, 150, 7, seed=3)
    Xc = X - X.mean(axis=0)
    K_tr, K_te = center_gram((Xc @ Xc.T)[None], tr, te)
    alphas = [0.1, 10.0, 1e4]
    pred = kernel_ridge(K_tr, K_te, Y[tr][None], alphas=alphas)
    for j, alpha in enumerate(alphas):
        ref = Ridge(alpha=alpha).fit(X[tr], Y[tr]).predict(X[te])
        np.testing.assert_allclose(pred[0, j], ref, atol=1e-8 * np.abs(ref).max())


def test_streamed_grams_equal_direct(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(30, 3, 4, 5, 6)).astype(np.float32)  # (stimulus, step, h, w, c)
    rows = rng.permutation(30)[:20]
    direct = compute_grams(feats, rows, [(1,), (0, 2)], n_steps=3, chunk_bytes=1 << 30)
    streamed = compute_grams(feats, rows, [(1,), (0, 2)], n_steps=3, chunk_bytes=1000)
    x = feats[rows][:, [0, 2]].astype(np.float64).mean(axis=1).reshape(20, -1)
    x -= x.mean(axis=0)
    np.testing.assert_allclose(streamed, direct, atol=1e-9)
    np.testing.assert_allclose(direct[1], x @ x.T, atol=1e-9)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["x"] = feats
    with h5py.File(tmp_path / "f.h5", "r") as f:
        from_h5 = compute_grams(f["x"], rows, [(1,), (0, 2)], n_steps=3, chunk_bytes=1000)
    np.testing.assert_allclose(from_h5, direct, atol=1e-9)


def test_fit_neural_scores_equal_naive_sklearn_loop():
    """Per-bin PLS over splits, as a naive loop of sklearn PLSRegression calls: same r to 1e-4."""
    rng = np.random.default_rng(1)
    n, steps, p, q = 96, 3, 70, 9
    feats = rng.normal(size=(n, steps, p))
    objects = np.repeat([f"obj{i}" for i in range(8)], n // 8)
    resp = np.einsum("nsp,pq->nqs", feats[:, :, :5], rng.normal(size=(5, q))) + rng.normal(size=(n, q, steps))
    ids = np.array([f"im{i:03d}" for i in range(n)])
    shuffled = rng.permutation(n)  # features in another order than the assembly
    assembly = make_assembly(resp, ids, [f"n{i}" for i in range(q)], [70, 80, 90], [80, 90, 100],
                             object_name=objects, region="IT")
    ds = fit_neural(feats[shuffled], assembly, stimulus_ids=ids[shuffled], ceiling=False,
                    time_mapping=TimeMapping(offset_ms=70.0), n_splits=3, n_components=25)
    splits = image_splits(n, "stratified", 3, 0.75, 0, objects)
    for s, (tr, te) in enumerate(splits):
        for t in range(steps):
            ref, _ = _sk_pls(feats[:, t], resp[:, :, t], tr, te, 25)
            r_ref = pearson_columns(ref, resp[te, :, t])
            np.testing.assert_allclose(ds["r"].values[s, :, t], r_ref, atol=1e-4)
            assert abs(ds["score_per_split"].values[s, t] - np.median(r_ref)) < 1e-4
    assert ds.attrs["regression"].startswith("PLSRegression(n_components=25, scale=False)")
