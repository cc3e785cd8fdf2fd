#!/usr/bin/env python3
"""Per-bin PLS neural fitting of one layer: convrnn_tf.neural.fit_neural vs naive scikit-learn calls.

Same data on both sides: convRNN-like features (stimulus, time_step, feature) with a different feature
set per 10-ms bin, responses of `--neurons` neuroids that depend linearly on a few feature directions
plus noise, `--splits` 75/25 object-stratified image splits. The naive side calls
``PLSRegression(n_components=25, scale=False).fit(X_bin[train], Y_bin[train]).predict(X_bin[test])``
once per (bin, split) and takes Pearson r per neuroid; ours fits every bin and split from one Gram matrix
per bin (kernel NIPALS, batched). Printed: both wall times, the ratio, the largest difference in the
per-neuroid r and in the median-over-neuroids score, and the hardware. BLAS threads are capped at
`--threads` on both sides (default 1: robust on shared machines). `--sklearn_fits N` times only N of the
naive fits and extrapolates (labelled as such) for sizes where the full naive loop would take too long.

    python bench/neural_fit.py [--images 640] [--features 2048] [--bins 4] [--splits 3] [--neurons 50]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np


def hardware(threads):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import cpu_model

    cpu = cpu_model()
    import sklearn

    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(sorted({f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info()
                                 if i.get("user_api") == "blas"}))
    except ImportError:
        blas = "unknown BLAS"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} CPUs (load {load:.1f}), BLAS threads {threads} ({blas}), "
            f"NumPy {np.__version__}, scikit-learn {sklearn.__version__}")


def make_data(n_images, n_features, n_bins, n_neurons, seed=0):
    rng = np.random.default_rng(seed)
    n_objects = 8
    objects = np.repeat([f"obj{i}" for i in range(n_objects)], -(-n_images // n_objects))[:n_images]
    feats = rng.normal(size=(n_images, n_bins, n_features)).astype(np.float32)
    W = rng.normal(size=(n_bins, 10, n_neurons)).astype(np.float32)
    resp = np.einsum("nbk,bkq->nqb", feats[:, :, :10], W) + 3.0 * rng.normal(size=(n_images, n_neurons, n_bins))
    return feats, resp, objects


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=640)
    p.add_argument("--features", type=int, default=2048)
    p.add_argument("--bins", type=int, default=4)
    p.add_argument("--splits", type=int, default=3)
    p.add_argument("--neurons", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sklearn_fits", type=int, default=0, help="time only this many naive fits (0: all)")
    args = p.parse_args()

    import sklearn.model_selection  # noqa: F401  (imports stay out of both timings)
    from threadpoolctl import threadpool_limits
    from sklearn.cross_decomposition import PLSRegression

    from convrnn_tf.neural import TimeMapping, fit_neural, image_splits, make_assembly, pearson_columns

    threadpool_limits(limits=args.threads, user_api="blas")
    feats, resp, objects = make_data(args.images, args.features, args.bins, args.neurons)
    ids = np.array([f"im{i:05d}" for i in range(args.images)])
    starts = 70.0 + 10.0 * np.arange(args.bins)
    assembly = make_assembly(resp, ids, [f"n{j}" for j in range(args.neurons)], starts, starts + 10,
                             object_name=objects, region="IT")
    print(f"data: {args.images} images x {args.features} features x {args.bins} bins (float32, "
          f"{feats.nbytes / 2**20:.0f} MiB), {args.neurons} neuroids, {args.splits} splits of 75/25, PLS-25")

    t0 = time.perf_counter()
    ds = fit_neural(feats, assembly, stimulus_ids=ids, time_mapping=TimeMapping(offset_ms=70.0),
                    n_splits=args.splits, train_size=0.75, ceiling=False)
    ours = time.perf_counter() - t0

    splits = image_splits(args.images, "stratified", args.splits, 0.75, 0, objects)
    jobs = [(b, s) for b in range(args.bins) for s in range(args.splits)]
    timed = jobs[: args.sklearn_fits] if args.sklearn_fits else jobs
    r_diff, score_diff, naive = 0.0, 0.0, 0.0
    for b, s in timed:
        tr, te = splits[s]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = PLSRegression(n_components=25, scale=False).fit(feats[tr, b], resp[tr, :, b])
            pred = model.predict(feats[te, b])
        r = pearson_columns(pred, resp[te, :, b])
        naive += time.perf_counter() - t0
        r_diff = max(r_diff, float(np.nanmax(np.abs(r - ds["r"].values[s, :, b]))))
        score_diff = max(score_diff, abs(float(np.median(r)) - float(ds["score_per_split"].values[s, b])))
    label = "sklearn naive"
    if len(timed) < len(jobs):
        naive *= len(jobs) / len(timed)
        label += f" (extrapolated from {len(timed)} of {len(jobs)} fits)"
    print(f"{'method':<52} {'seconds':>9}")
    print(f"{'convrnn_tf.neural.fit_neural (all bins and splits)':<52} {ours:9.2f}")
    print(f"{label:<52} {naive:9.2f}")
    print(f"speed-up: {naive / ours:.1f}x   max |r diff| {r_diff:.2e}   max |score diff| {score_diff:.2e} "
          f"(over {len(timed)} compared fits)")
    print(f"scores per bin (mean over splits): {np.round(ds['score'].values, 4).tolist()}")
    print("hardware:", hardware(args.threads))


if __name__ == "__main__":
    main()
