"""End-to-end example on simulated data, writing one PNG of each plot.

Run ``python -m convrnn_tf.analysis.example`` (writes ``/tmp/analysis_*.png``).

A "neural" and a "model" population share per-image decoding onsets (challenge images 30 ms later), so
their OSTs correlate and the challenge delay is recovered; simulated human choices come from latent
per-image class probabilities of which the model sees a noisy copy.
"""

from __future__ import annotations

import numpy as np

from . import behavior, plots
from .decoding import decode_over_time
from .latency import decoding_latency
from .ost import compare_groups, ost_correlation, ost_from_decoding
from .simulate import simulate_choices, simulate_population


def latent_probabilities(labels, n_classes, noise=1.0, base=2.5, seed=0, latent=None):
    """Per-image class probabilities softmax(base * onehot + latent + noise * eps); returns (p, latent)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    if latent is None:
        difficulty = rng.normal(0.0, 1.0, (n, 1)) * np.eye(n_classes)[labels]
        latent = rng.normal(0.0, 1.0, (n, n_classes)) + difficulty
    z = base * np.eye(n_classes)[labels] + latent + noise * rng.standard_normal((n, n_classes))
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True), latent


def run_example(prefix="/tmp/analysis_", seed=0, n_splits=5, n_boot=300):
    """Run every analysis on simulated data and write ``{prefix}{accuracy,ost_scatter,ost_groups,
    consistency}.png``; returns a dict of the results."""
    neural = simulate_population(seed=seed, jitter=8.0, n_neurons=60)
    model = simulate_population(seed=seed + 1, n_neurons=80, onsets=neural.onsets + 4.0,
                                challenge=neural.challenge)
    out = {}
    for name, sim in (("IT (simulated)", neural), ("model (simulated)", model)):
        res = decode_over_time(sim.responses, sim.labels, sim.time_bins, n_splits=n_splits, seed=seed)
        out[name] = {"result": res, "latency": decoding_latency(res, n_boot=n_boot, seed=seed),
                     "ost": ost_from_decoding(res)}
    (n_name, n_out), (m_name, m_out) = out.items()
    corr = ost_correlation(m_out["ost"], n_out["ost"], folds=m_out["result"].fold)
    groups = {name: compare_groups(o["ost"], neural.challenge, n_boot=n_boot, seed=seed)
              for name, o in out.items()}
    paths = [
        plots.plot_decoding_over_time({k: v["result"] for k, v in out.items()}, f"{prefix}accuracy.png",
                                      latencies={k: v["latency"] for k, v in out.items()}),
        plots.plot_ost_scatter(m_out["ost"], n_out["ost"], f"{prefix}ost_scatter.png", flag=neural.challenge,
                               rho=corr),
        plots.plot_ost_groups(groups, f"{prefix}ost_groups.png"),
    ]
    # behaviour: humans and a model share latent per-image confusions
    labels = m_out["result"].labels
    n_cls = len(m_out["result"].classes)
    p_human, latent = latent_probabilities(labels, n_cls, noise=0.0, seed=seed)
    trials = simulate_choices(p_human, labels, trials_per_pair=12, seed=seed)
    cons = {}
    for name, noise in (("model A", 0.5), ("model B", 2.0)):
        p_model, _ = latent_probabilities(labels, n_cls, noise=noise, seed=seed + 3, latent=latent)
        beh = behavior.from_probabilities(p_model, labels)
        cons[name] = {m: behavior.consistency(beh, trials, metric=m, niter=5, seed=seed)
                      for m in behavior.METRICS}
    ceiling = {m: float(np.nanmean(behavior.split_half_reliability(trials, m, niter=5, seed=seed)))
               for m in behavior.METRICS}
    paths.append(plots.plot_consistency_bars(cons, f"{prefix}consistency.png", ceiling=ceiling,
                                             ceiling_label="human split-half r"))
    return {"decoding": out, "ost_correlation": corr, "groups": groups, "consistency": cons, "paths": paths}


if __name__ == "__main__":  # pragma: no cover
    results = run_example()
    for name, g in results["groups"].items():
        print(f"{name}: challenge - control median OST = {g.difference:.1f} ms, CI {g.ci}")
    print("OST Spearman (model vs IT):", results["ost_correlation"].mean)
    print("\n".join(results["paths"]))
