"""Kernel (Gram-matrix) regressions batched over time bins: PLS equal to scikit-learn's, and ridge.

Why a kernel form. ``sklearn.cross_decomposition.PLSRegression(n_components, scale=False)`` runs NIPALS on
the centred features X (n x p) and targets Y (n x q). Every quantity it needs from X can be written with
the centred Gram matrix K = Xc Xc^T (n x n), so once K is known the fit costs O(n^2 q + k n^2) and no
longer depends on p (features can be 100k-dimensional). One Gram over *all* stimuli serves every split
(:func:`center_gram` takes the train block and re-centres it), and bins that share features share a Gram.

The NIPALS step of sklearn (mode A, regression deflation; X_k, Y_k the deflated matrices) is::

    u_0 = first column of Y_k with an entry > eps;  repeat i = 1, 2, ...:
        w_i = X_k^T u / |X_k^T u| ;  t = X_k w_i ;  c = Y_k^T t / t.t ;  u = Y_k c / c.c
        stop when |w_i - w_{i-1}|^2 < tol (w_0 = 100) or q == 1, at most max_iter times.

With M_k = Y_k^T K_k Y_k (q x q) this is a power iteration on c: w_i is proportional to X_k^T Y_k c_{i-1},
|w_i - w_{i-1}|^2 = 2 - 2 c_{i-1}^T M c_{i-2} / sqrt(c_{i-1}^T M c_{i-1} . c_{i-2}^T M c_{i-2}), so the
same iterates (and the same stopping step) are reproduced in q dimensions. Then, with s = sqrt(c^T M c)::

    a_k = Y_k c / s  (w_k = X^T a_k),   t_k = D_k K a_k  (D_k: projector orthogonal to t_1..t_{k-1}),
    r_k = Y_k^T t_k / t_k.t_k,  Y_{k+1} = Y_k - t_k r_k^T,  (P^T W)_{ij} = t_i^T K a_j / t_i.t_i
    prediction:  Y_hat = K_test A (P^T W)^{-1} R + mean(Y_train)

which is sklearn's ``X_test_c W (P^T W)^+ Q^T + y_mean`` (the sign flip of sklearn's weights cancels).
Using the first k' columns gives the k'-component model, so a grid of component counts costs one fit.
Degenerate cases follow sklearn: a bin whose Y residual is constant stops adding components.
"""

from __future__ import annotations

import numpy as np

_EPS = np.finfo(np.float64).eps


def center_gram(gram, train, test=None):
    """Centre a Gram matrix of (roughly centred) features on the training rows.

    gram: (..., N, N) with gram[i, j] = x_i . x_j; train/test: index arrays into N.
    Returns ``(K_tr, K_te)`` with K_tr[i, j] = (x_i - m).(x_j - m) for i, j in train and
    K_te[s, j] = (x_s - m).(x_j - m) for s in test, j in train, m = mean of the training features.
    """
    gram = np.asarray(gram, dtype=np.float64)
    train = np.asarray(train)
    k_tt = gram[..., train[:, None], train[None, :]]
    col = k_tt.mean(axis=-2, keepdims=True)  # mean over i of x_i.x_j = m.x_j
    row = np.swapaxes(col, -1, -2)
    both = col.mean(axis=-1, keepdims=True)  # m.m
    k_tr = k_tt - col - row + both
    if test is None:
        return k_tr, None
    test = np.asarray(test)
    k_st = gram[..., test[:, None], train[None, :]]
    k_te = k_st - col - k_st.mean(axis=-1, keepdims=True) + both
    return k_tr, k_te


def _gram_matmul(K, V, index):
    """out[b] = K[index[b]] @ V[b] for V (B, n, r), grouping batch items that share a Gram."""
    out = np.empty(V.shape[:1] + (K.shape[-2],) + V.shape[2:], dtype=np.float64)
    for g in np.unique(index):
        sel = np.flatnonzero(index == g)
        stacked = np.concatenate(list(V[sel]), axis=-1)  # (n, len(sel) * r)
        res = K[g] @ stacked
        out[sel] = np.stack(np.split(res, len(sel), axis=-1))
    return out


def _mv(A, v):
    """Batched matrix-vector product (B, i, j) x (B, j) -> (B, i) through BLAS."""
    return (A @ v[..., None])[..., 0]


def _power_iteration(M, start, max_iter, tol, single_target):
    """sklearn's NIPALS inner loop in q dimensions; returns c* (B, q), c*^T M c* and iterations.

    With M = V diag(l) V^T and z = V^T c_0, the iterate c_i is proportional to V (l^i z), so
    c_{i-1}^T M c_{i-2} / sqrt(c_{i-1}^T M c_{i-1} c_{i-2}^T M c_{i-2}) = S(2i-2) / sqrt(S(2i-1) S(2i-3))
    with S(m) = sum_j z_j^2 (l_j / l_max)^m: the stopping step and c* follow without iterating.
    """
    B, q = start.shape
    if q > 512:  # eigendecompositions would cost more than iterating
        return _power_iteration_loop(M, start, max_iter, tol, single_target)
    lam, V = np.linalg.eigh(M)
    lam = np.maximum(lam, 0.0)
    top = lam[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rho = np.where(lam > 0, np.log(np.where(lam > 0, lam, 1.0) / np.where(top > 0, top, 1.0)), -np.inf)
    z = _mv(np.swapaxes(V, 1, 2), start)
    w2 = z * z
    stop = np.full(B, 1 if single_target else max_iter)
    todo = np.full(B, not single_target)
    block = 32
    for i0 in range(2, max_iter + 1, block):
        if not todo.any():
            break
        i = np.arange(i0, min(max_iter + 1, i0 + block))
        m = np.stack([2 * i - 3, 2 * i - 2, 2 * i - 1])[:, None, :, None]  # (3, 1, I, 1)
        with np.errstate(under="ignore", invalid="ignore"):
            S = (w2[None, :, None, :] * np.exp(m * log_rho[None, :, None, :])).sum(axis=-1)  # (3, B, I)
            cos = S[1] / np.sqrt(S[0] * S[2])
        hit = (2.0 - 2.0 * cos < tol) | ~np.isfinite(cos)
        first = np.where(hit.any(axis=1), i[np.argmax(hit, axis=1)], max_iter + 1)
        newly = todo & (first <= max_iter)
        stop[newly] = first[newly]
        todo &= ~newly
    with np.errstate(under="ignore"):
        coef = z * np.exp((stop - 1)[:, None] * log_rho)
    coef = np.where(np.isfinite(coef), coef, 0.0)
    c = _mv(V, coef)
    c /= np.linalg.norm(c, axis=-1, keepdims=True)
    qc = (c * _mv(M, c)).sum(axis=-1)
    return c, qc, stop


def _power_iteration_loop(M, start, max_iter, tol, single_target):
    """The same as :func:`_power_iteration`, iterating (for large q)."""
    c = start / np.linalg.norm(start, axis=-1, keepdims=True)
    mc = _mv(M, c)
    qc = (c * mc).sum(axis=-1)
    active = np.full(len(M), not single_target)
    n_iter = np.ones(len(M), dtype=int)
    for i in range(2, max_iter + 1):
        if not active.any():
            break
        norm = np.linalg.norm(mc, axis=-1)
        cn = mc / np.where(norm > 0, norm, 1.0)[:, None]
        mcn = _mv(M, cn)
        qn = (cn * mcn).sum(axis=-1)
        cos = norm / np.sqrt(np.maximum(qn * qc, 1e-300))
        upd = active
        c[upd], mc[upd], qc[upd], n_iter[upd] = cn[upd], mcn[upd], qn[upd], i
        active = active & ~(2.0 - 2.0 * cos < tol)
    return c, qc, n_iter


def kernel_pls(K_tr, K_te, Y, gram_index=None, n_components=25, components=None, max_iter=500,
               tol=1e-6):
    """Batched PLS regression predictions from centred Grams (equal to sklearn PLSRegression, scale=False).

    K_tr: (G, n, n) centred train Grams; K_te: (G, m, n) centred test-train Grams (see :func:`center_gram`);
    Y: (B, n, q) training targets (raw; centred here); gram_index: (B,) Gram of each batch item (default
    ``arange(B)``, needs G == B); components: component counts to predict with (default
    ``[n_components]``), each <= n_components. Returns predictions (B, len(components), m, q) and
    ``info`` = dict(n_iter (B, k), n_effective (B,)).
    """
    K_tr, K_te, Y = (np.asarray(a, dtype=np.float64) for a in (K_tr, K_te, Y))
    B, n, q = Y.shape
    index = np.arange(B) if gram_index is None else np.asarray(gram_index)
    comps = [n_components] if components is None else [int(k) for k in components]
    if max(comps) > n_components or min(comps) < 1:
        raise ValueError(f"components {comps} must lie in [1, n_components={n_components}]")
    y_mean = Y.mean(axis=1, keepdims=True)
    Yk = Y - y_mean
    H = _gram_matmul(K_tr, Yk, index)  # K Y_k, updated by rank-one steps
    trace = np.trace(K_tr, axis1=-2, axis2=-1)[index]
    T = np.zeros((B, n, n_components))
    A = np.zeros((B, n, n_components))
    KA = np.zeros((B, n, n_components))
    R = np.zeros((B, n_components, q))
    tts = np.ones((B, n_components))
    live = np.ones(B, dtype=bool)
    n_iter = np.zeros((B, n_components), dtype=int)
    n_eff = np.full(B, n_components)
    for k in range(n_components):
        absmax = np.abs(Yk).max(axis=1)  # (B, q)
        small = absmax < 10 * _EPS  # sklearn zeroes near-zero residual columns
        if small.any():
            Yk *= ~small[:, None, :]
            H *= ~small[:, None, :]
        nonzero = absmax > _EPS
        stop = live & ~nonzero.any(axis=1)
        n_eff[stop] = k
        live &= ~stop
        if not live.any():
            break
        start = np.zeros((B, q))
        first = np.where(live, np.argmax(nonzero, axis=1), 0)
        start[np.arange(B), first] = 1.0
        M = np.swapaxes(Yk, 1, 2) @ H
        M = 0.5 * (M + np.swapaxes(M, 1, 2))
        c, qc, n_iter[:, k] = _power_iteration(M, start, max_iter, tol, q == 1)
        s = np.sqrt(np.maximum(qc, 1e-300))[:, None]
        a = _mv(Yk, c) / s
        ka = _mv(H, c) / s
        Tk = T[:, :, :k]
        t = ka - _mv(Tk, _mv(np.swapaxes(Tk, 1, 2), ka) / tts[:, :k])
        tt = (t * t).sum(axis=-1)
        ok = live & (tt > 1e-12 * np.maximum(trace, 1e-300))
        n_eff[live & ~ok] = k
        live &= ok
        t[~live], a[~live], ka[~live] = 0.0, 0.0, 0.0
        tt = np.where(live, tt, 1.0)
        r = _mv(np.swapaxes(Yk, 1, 2), t) / tt[:, None]
        kt = _gram_matmul(K_tr, t[:, :, None], index)[:, :, 0]
        Yk -= t[:, :, None] * r[:, None, :]
        H -= kt[:, :, None] * r[:, None, :]
        T[:, :, k], A[:, :, k], KA[:, :, k], R[:, k], tts[:, k] = t, a, ka, r, tt
    PW = (np.swapaxes(T, 1, 2) @ KA) / tts[:, :, None]
    dead = np.arange(n_components)[None, :] >= n_eff[:, None]  # unused components: identity rows
    PW[dead] = 0.0
    PW[:, np.arange(n_components), np.arange(n_components)] += dead
    KtA = _gram_matmul(K_te, A, index)  # (B, m, n_components)
    out = np.empty((B, len(comps), K_te.shape[-2], q))
    for j, kk in enumerate(comps):
        coef = np.linalg.solve(PW[:, :kk, :kk], R[:, :kk])
        out[:, j] = KtA[:, :, :kk] @ coef + y_mean
    return out, {"n_iter": n_iter, "n_effective": n_eff}


def kernel_ridge(K_tr, K_te, Y, gram_index=None, alphas=(1.0,)):
    """Batched ridge predictions (equal to sklearn ``Ridge(alpha, fit_intercept=True)``).

    Y_hat = K_te (K_tr + alpha I)^{-1} (Y - mean Y) + mean Y, for every alpha via one eigendecomposition
    K_tr = U diag(l) U^T per Gram. Returns (B, len(alphas), m, q).
    """
    K_tr, K_te, Y = (np.asarray(a, dtype=np.float64) for a in (K_tr, K_te, Y))
    index = np.arange(len(Y)) if gram_index is None else np.asarray(gram_index)
    y_mean = Y.mean(axis=1, keepdims=True)
    Yc = Y - y_mean
    out = np.empty((len(Y), len(alphas), K_te.shape[-2], Y.shape[-1]))
    for g in np.unique(index):
        sel = np.flatnonzero(index == g)
        lam, U = np.linalg.eigh(K_tr[g])
        lam = np.maximum(lam, 0.0)
        KU = K_te[g] @ U
        UtY = U.T @ Yc[sel]
        for j, alpha in enumerate(alphas):
            out[sel, j] = (KU / (lam + alpha)) @ UtY + y_mean[sel]
    return out


def pearson_columns(pred, target):
    """Pearson r per column over the sample axis -2: inputs (..., m, q) -> (..., q); NaN if constant."""
    p = pred - pred.mean(axis=-2, keepdims=True)
    t = target - target.mean(axis=-2, keepdims=True)
    num = (p * t).sum(axis=-2)
    den = np.sqrt((p * p).sum(axis=-2) * (t * t).sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    return np.where(den > 0, r, np.nan)
