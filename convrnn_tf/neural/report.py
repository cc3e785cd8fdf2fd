"""Reports of several fits: a combined summary table, a one-screen text table and PNG plots.

``summary`` is a ``pandas.DataFrame`` with one row per (model, layer, region, time bin) and the columns
of :func:`convrnn_tf.neural.summary_table` (``score``, ``score_sem``, ``ceiling``, ``ceiled``, ...).
"""

from __future__ import annotations

import os

import numpy as np


def combine(datasets):
    """One DataFrame from fit Datasets whose attrs hold ``model``, ``layer`` and ``region``."""
    import pandas as pd

    from convrnn_tf.neural.results import summary_table

    frames = []
    for ds in datasets:
        frame = summary_table(ds)
        for key in ("model", "layer", "region"):
            if key not in frame:
                frame.insert(0, key, str(ds.attrs.get(key, "")))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _bins(summary):
    return summary[summary["time_bin_kind"] == "bin"] if "time_bin_kind" in summary else summary


def best_layers(summary, metric="score"):
    """Per region, the (model, layer) with the highest mean ``metric`` over time bins:
    a DataFrame with columns region, model, layer, mean_score (and mean_ceiled when present)."""
    s = _bins(summary)
    agg = {"mean_score": (metric, "mean")}
    if "ceiled" in s:
        agg["mean_ceiled"] = ("ceiled", "mean")
    means = s.groupby(["region", "model", "layer"], sort=False).agg(**agg).reset_index()
    idx = means.groupby("region", sort=False)["mean_score"].idxmax()
    return means.loc[idx].reset_index(drop=True)


def format_table(summary, metric="score"):
    """A one-screen text table: best layer per region, then its score (and the ceiling) per time bin."""
    best = best_layers(summary, metric)
    lines = ["best layer per region (mean over time bins of the median-over-neuroids Pearson r):"]
    for _, row in best.iterrows():
        extra = f"  ceiled {row['mean_ceiled']:.3f}" if "mean_ceiled" in row else ""
        lines.append(f"  {row['region']:<6} {row['model']}/{row['layer']}  score {row['mean_score']:.3f}{extra}")
    s = _bins(summary)
    header = f"{'bin (ms)':<10}"
    columns = []
    for _, row in best.iterrows():
        sel = s[(s["region"] == row["region"]) & (s["model"] == row["model"]) & (s["layer"] == row["layer"])]
        columns.append((row["region"], sel.reset_index(drop=True)))
        header += f" {row['region'] + ' r':>9} {'ceiling':>8} {'ceiled':>7}"
    lines += ["", header]
    n_bins = max(len(c) for _, c in columns) if columns else 0
    for i in range(n_bins):
        ref = columns[0][1]
        line = f"{ref['time_bin_start'][i]:>4.0f}-{ref['time_bin_end'][i]:<5.0f}"
        for _, c in columns:
            if i >= len(c):
                line += " " * 26
                continue
            get = lambda k: c[k][i] if k in c else np.nan  # noqa: E731
            line += f" {get('score'):>9.3f} {get('ceiling'):>8.3f} {get('ceiled'):>7.3f}"
        lines.append(line)
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path):
    """Lay out, write (PNG, 100 dpi) and close ``fig``; returns ``path``."""
    plt = _plt()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _centres(frame):
    return (frame["time_bin_start"].to_numpy(float) + frame["time_bin_end"].to_numpy(float)) / 2


def plot_predictivity(summary, out_dir, metric="score"):
    """One PNG per region: ``metric`` vs time for every (model, layer), with SEM bands and the ceiling.
    Returns the paths."""
    plt = _plt()
    s = _bins(summary)
    paths = []
    for region, part in s.groupby("region", sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (model, layer), g in part.groupby(["model", "layer"], sort=False):
            x, y = _centres(g), g[metric].to_numpy(float)
            ax.plot(x, y, marker=".", label=f"{model}/{layer}")
            if metric == "score" and "score_sem" in g:
                sem = g["score_sem"].to_numpy(float)
                ax.fill_between(x, y - sem, y + sem, alpha=0.2)
        if metric == "score" and "ceiling" in part:
            first = part.groupby(["model", "layer"], sort=False).head(len(part))
            g0 = first[(first["model"] == first["model"].iloc[0]) & (first["layer"] == first["layer"].iloc[0])]
            ax.plot(_centres(g0), g0["ceiling"].to_numpy(float), "k--", label="noise ceiling")
        ax.set_xlabel("time bin centre (ms)")
        ax.set_ylabel({"score": "median Pearson r (test images)"}.get(metric, metric))
        ax.set_title(f"{region}: predictivity over time")
        ax.legend(fontsize=7, loc="best")
        paths.append(save_figure(fig, os.path.join(out_dir, f"predictivity_{region}.png")))
    return paths


def plot_model_comparison(summary, out_dir, metric="score"):
    """One PNG comparing models on one axis: per model and region, its best layer (mean over bins)."""
    plt = _plt()
    s = _bins(summary)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = ["-", "--", ":", "-."]
    for r_i, (region, part) in enumerate(s.groupby("region", sort=False)):
        for model, g in part.groupby("model", sort=False):
            layer = g.groupby("layer", sort=False)[metric].mean().idxmax()
            best = g[g["layer"] == layer]
            ax.plot(_centres(best), best[metric].to_numpy(float), styles[r_i % len(styles)], marker=".",
                    label=f"{region}: {model} ({layer})")
    ax.set_xlabel("time bin centre (ms)")
    ax.set_ylabel(metric)
    ax.set_title("model comparison (best layer per model and region)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = os.path.join(out_dir, "model_comparison.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
