"""PNG plots of the dynamics analyses (matplotlib, drawn off-screen with the Agg canvas).

Each function draws one figure, writes it to ``path`` (PNG) and returns the path. matplotlib is imported
only here and only when a plot is drawn; pyplot and the global backend are not touched.
"""

from __future__ import annotations

import numpy as np

from .decoding import DecodingResult
from .latency import Latency
from .ost import GroupComparison


def _figure(width=6.0, height=4.0):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the analysis plots need matplotlib: pip install matplotlib") from e
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(str(path), format="png")
    return str(path)


def _curve(entry, metric):
    if isinstance(entry, DecodingResult):
        return entry.times, entry.curve(metric), entry.sem(metric), entry.shuffled
    times, mean, sem = entry
    return np.asarray(times), np.asarray(mean), np.asarray(sem), None


def plot_decoding_over_time(curves, path, latencies=None, metric="accuracy", chance=None, title=None,
                            time_label="time (ms)"):
    """Metric vs time, one line per region/model, SEM band, shuffled control dotted, latency marked.

    ``curves``: ``{name: DecodingResult or (times, mean, sem)}``; ``latencies``: ``{name: Latency or
    float}`` (a vertical dashed line, with its CI as a band); ``chance``: a horizontal line (default: the
    first result's chance for accuracy, 0 for d').
    """
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    latencies = latencies or {}
    colors = [f"C{k}" for k in range(10)]
    for k, (name, entry) in enumerate(curves.items()):
        col = colors[k % 10]
        t, m, s, shuffled = _curve(entry, metric)
        lat = latencies.get(name)
        value = None if lat is None else (lat.latency if isinstance(lat, Latency) else float(lat))
        if value is None:
            label = name
        else:
            label = f"{name}: latency {value:.0f}" if np.isfinite(value) else f"{name}: no latency"
        ax.plot(t, m, color=col, lw=2, label=label)
        ax.fill_between(t, m - s, m + s, color=col, alpha=0.2, lw=0)
        if shuffled is not None:
            ax.plot(shuffled.times, shuffled.curve(metric), color=col, ls=":", lw=1,
                    label=f"{name} (shuffled)")
        if chance is None and isinstance(entry, DecodingResult):
            chance = entry.chance if metric == "accuracy" else 0.0
        if value is not None and np.isfinite(value):
            ax.axvline(value, color=col, ls="--", lw=1)
            if isinstance(lat, Latency) and np.all(np.isfinite(lat.ci)):
                ax.axvspan(*lat.ci, color=col, alpha=0.1, lw=0)
    if chance is not None:
        ax.axhline(chance, color="0.4", lw=1, ls="-.", label="chance")
    ax.set_xlabel(time_label)
    ax.set_ylabel("decoding accuracy" if metric == "accuracy" else "d'")
    ax.set_title(title or f"{metric} over time")
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_ost_scatter(model_ost, neural_ost, path, flag=None, names=("control", "challenge"), rho=None,
                     model_name="model", title=None):
    """Model vs neural OST per image (images solved by both), coloured by ``flag``; identity line.

    ``model_ost``/``neural_ost``: ``[P]`` (or ``[R, P]``, NaN-averaged over repeats). ``rho``: a number
    or an ``OSTCorrelation`` shown in the title.
    """
    a, b = (_collapse(o) for o in (model_ost, neural_ost))
    ok = np.isfinite(a) & np.isfinite(b)
    flag = np.zeros(len(a), bool) if flag is None else np.asarray(flag, bool)
    fig = _figure(4.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for val, name, col in ((False, names[0], "C0"), (True, names[1], "C3")):
        m = ok & (flag == val)
        if m.any():
            ax.scatter(b[m], a[m], s=12, color=col, alpha=0.7, label=f"{name} (n={int(m.sum())})")
    if ok.any():
        lo, hi = min(a[ok].min(), b[ok].min()), max(a[ok].max(), b[ok].max())
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--")
    r = getattr(rho, "mean", rho)
    ax.set_xlabel("neural OST (ms)")
    ax.set_ylabel(f"{model_name} OST")
    ax.set_title(title or ("OST" + (f": Spearman rho = {r:.2f}" if r is not None else "")))
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def _collapse(o):
    o = np.asarray(o, float)
    if o.ndim == 2:
        cnt = np.isfinite(o).sum(0)
        o = np.where(cnt > 0, np.nansum(o, 0) / np.maximum(cnt, 1), np.nan)
    return o


def plot_ost_groups(comparisons, path, title=None, time_label="OST (ms)"):
    """Control-vs-challenge OST distributions: ``{name: GroupComparison}`` (one panel each).

    Each panel shows both groups' solved-image OSTs (jittered points and a box), the medians, and the
    difference with its bootstrap CI in the panel title.
    """
    if isinstance(comparisons, GroupComparison):
        comparisons = {"": comparisons}
    fig = _figure(3.2 * len(comparisons) + 0.8, 4.0)
    rng = np.random.default_rng(0)
    for k, (name, comp) in enumerate(comparisons.items()):
        ax = fig.add_subplot(1, len(comparisons), k + 1)
        ax.boxplot([g for g in comp.groups], widths=0.5, showfliers=False)
        for j, (g, col) in enumerate(zip(comp.groups, ("C0", "C3"))):
            ax.scatter(j + 1 + rng.uniform(-0.15, 0.15, g.size), g, s=8, color=col, alpha=0.6)
            ax.hlines(comp.medians[j], j + 0.7, j + 1.3, color="k", lw=2)
        ax.set_xticks([1, 2], [f"{n}\n({s}/{t} solved)" for n, s, t in zip(comp.names, comp.n_solved,
                                                                        comp.n_images)], fontsize=8)
        ax.set_ylabel(time_label)
        lo, hi = comp.ci
        ax.set_title(f"{name}\ndiff = {comp.difference:.1f} [{lo:.1f}, {hi:.1f}]", fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_consistency_bars(values, path, ceiling=None, ceiling_label="reference", title=None):
    """Grouped bars of behavioural consistency: ``{source: {metric: Consistency or (value, err)}}``.

    ``ceiling``: optional ``{metric: value}`` drawn as dashed lines labelled ``ceiling_label`` (e.g. the
    human split-half reliability, or the Brain-Score I2n ceiling).
    """
    sources = list(values)
    metrics = sorted({m for v in values.values() for m in v})
    fig = _figure(max(4.0, 1.2 * len(metrics) * max(1, len(sources)) / 2 + 2), 4.0)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(sources))
    for k, src in enumerate(sources):
        vals, errs = [], []
        for m in metrics:
            c = values[src].get(m)
            if c is None:
                vals.append(np.nan), errs.append(0.0)
            elif hasattr(c, "value"):
                vals.append(c.value), errs.append(c.std)
            else:
                vals.append(float(c[0])), errs.append(float(c[1]))
        x = np.arange(len(metrics)) - 0.4 + width * (k + 0.5)
        ax.bar(x, vals, width, yerr=errs, capsize=3, color=f"C{k % 10}", label=src)
    for j, m in enumerate(metrics):
        if ceiling and m in ceiling:
            ax.hlines(ceiling[m], j - 0.45, j + 0.45, color="k", ls="--", lw=1,
                      label=ceiling_label if j == 0 else None)
    ax.set_xticks(np.arange(len(metrics)), [m.upper() for m in metrics])
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel("noise-corrected consistency")
    ax.set_title(title or "behavioural consistency")
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)
