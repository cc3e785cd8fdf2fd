"""The report after neural training: predictivity per time bin before vs after, and generalisation.

Predictivity: for the starting model ("before") and the trained one ("after"), each region's readout
features (the layers, steps and pooling the task trains through) are mapped to the recorded
responses by a *fresh* PLS regression per time bin (`convrnn_tf.neural.fit_neural`), scored by the
median Pearson r over neuroids and ceiled by the split-half noise ceiling, for

* neurons: ``train`` (the training targets) and ``held-out`` (never trained on: cross-neuron validation);
* images: ``held-out`` (PLS fit on the training images, scored on the held-out images) and ``train``
  (cross-validated within the training images, 75/25 shuffle splits).

Generalisation: categorisation accuracy before vs after on the neural stimuli (held-out images) and on
the categorisation task's validation split, per decoder (`convrnn_tf.training.generalization`).

Files in ``out_dir``: ``predictivity.csv``, ``predictivity.txt``, ``predictivity_<region>.png``,
``categorization.csv``, ``categorization.txt``, ``categorization.png``.
"""

from __future__ import annotations

import os

import numpy as np

STATES = ("before", "after")


def predictivity(task, models, *, n_components=25, n_splits=5, ceiling_splits=10, ceiling_convention="r^2/c",
                 random_state=0):
    """A DataFrame: one row per state x region x neurons x images x time bin (score, ceiling, ceiled)."""
    import pandas as pd

    from convrnn_tf.neural import TimeMapping, fit_neural
    from convrnn_tf.neural.results import summary_table

    data = task.data
    mapping = TimeMapping("explicit", steps=tuple(range(data.n_bins)))
    ids = data.stimulus_id
    train_ids = set(ids[data.train_images].tolist())
    frames = []
    for state, model in models.items():
        feats = task.readout_features(model, data.images)
        for region in data.regions:
            cols = data.region_neuroids(region)
            for neurons, idx in (("train", data.train_neurons[region]), ("held-out", data.heldout_neurons[region])):
                if len(idx) == 0:
                    continue
                a = data.assembly.isel(neuroid=cols[idx])
                a_train = a.isel(presentation=np.flatnonzero(np.isin(a["stimulus_id"].values.astype(str),
                                                                     list(train_ids))))
                for images, assembly, splits in (("held-out", a, [(data.train_images, data.test_images)]),
                                                 ("train", a_train, "shuffle")):
                    ds = fit_neural(feats[region], assembly, stimulus_ids=ids, time_mapping=mapping,
                                    splits=splits, n_splits=n_splits, n_components=n_components,
                                    ceiling_splits=ceiling_splits, ceiling_convention=ceiling_convention,
                                    random_state=random_state, source=data.source)
                    frame = summary_table(ds)
                    frame = frame[frame["time_bin_kind"] == "bin"] if "time_bin_kind" in frame else frame
                    for key, value in (("images", images), ("neurons", neurons), ("region", region),
                                       ("state", state)):
                        frame.insert(0, key, value)
                    frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _halves(frame):
    starts = np.sort(frame["time_bin_start"].unique())
    cut = starts[len(starts) // 2] if len(starts) > 1 else starts[0]
    return cut


def summarize_predictivity(frame):
    """``{region: {neurons: {images: {before, after, late_before, late_after}}}}`` of mean ceiled scores
    (all bins, and the later half of the bins)."""
    cut = _halves(frame)
    out = {}
    for (region, neurons, images, state), g in frame.groupby(["region", "neurons", "images", "state"], sort=False):
        d = out.setdefault(region, {}).setdefault(neurons, {}).setdefault(images, {})
        d[state] = float(g["ceiled"].mean())
        d[f"late_{state}"] = float(g[g["time_bin_start"] >= cut]["ceiled"].mean())
    return out


def format_predictivity(frame):
    """Per region: ceiled predictivity per time bin, before -> after, for each neurons x images group."""
    cut = _halves(frame)
    lines = ["ceiled predictivity per time bin (fresh PLS per bin; median over neuroids; before -> after)"]
    for region, part in frame.groupby("region", sort=False):
        groups = list(dict.fromkeys(zip(part["neurons"], part["images"])))
        lines += ["", f"{region}:", f"{'bin (ms)':<10}" + "".join(f" {f'{n} neurons/{i} images':>28}"
                                                                for n, i in groups)]
        starts = sorted(part["time_bin_start"].unique())
        for s in starts:
            row = part[part["time_bin_start"] == s]
            line = f"{s:>4.0f}-{row['time_bin_end'].iloc[0]:<5.0f}"
            for n, i in groups:
                g = row[(row["neurons"] == n) & (row["images"] == i)].set_index("state")["ceiled"]
                line += f" {g.get('before', np.nan):>13.3f} -> {g.get('after', np.nan):>9.3f}  "
            lines.append(line)
        line = f"{'mean':<10}"
        late = f"{f'>= {cut:.0f}':<10}"
        for n, i in groups:
            g = part[(part["neurons"] == n) & (part["images"] == i)]
            b, a = (g[g["state"] == s]["ceiled"].mean() for s in STATES)
            lb, la = (g[(g["state"] == s) & (g["time_bin_start"] >= cut)]["ceiled"].mean() for s in STATES)
            line += f" {b:>13.3f} -> {a:>9.3f}  "
            late += f" {lb:>13.3f} -> {la:>9.3f}  "
        lines += [line, late]
    return "\n".join(lines)


def plot_predictivity(frame, out_dir):
    """One PNG per region: a panel per neurons x images group, ceiled score vs time, before and after."""
    from convrnn_tf.neural.report import _plt, save_figure

    plt = _plt()
    paths = []
    for region, part in frame.groupby("region", sort=False):
        groups = list(dict.fromkeys(zip(part["neurons"], part["images"])))
        fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.4), sharey=True, squeeze=False)
        for ax, (n, i) in zip(axes[0], groups):
            g = part[(part["neurons"] == n) & (part["images"] == i)]
            for state, style in zip(STATES, ("--", "-")):
                h = g[g["state"] == state]
                x = (h["time_bin_start"].to_numpy(float) + h["time_bin_end"].to_numpy(float)) / 2
                ax.plot(x, h["ceiled"].to_numpy(float), style, marker=".", label=f"{state} neural training")
            ax.set_title(f"{n} neurons, {i} images", fontsize=9)
            ax.set_xlabel("time bin centre (ms)")
        axes[0][0].set_ylabel("ceiled predictivity")
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{region}: predictivity before vs after neural training", fontsize=10)
        paths.append(save_figure(fig, os.path.join(out_dir, f"predictivity_{region}.png")))
    return paths


def write_report(task, model, *, model_fn=None, dataset_fn=None, out_dir, eval_steps=None, log=print,
                 n_components=25, n_splits=5, ceiling_splits=10, ceiling_convention="r^2/c", generalization=True,
                 decoders=None, decoder_train_batches=8, class_names=None, batch_size=32):
    """Score the starting model (rebuilt with ``model_fn`` and the task's starting checkpoint) and the
    trained ``model``; write the files listed in the module docstring; return a JSON-able summary."""
    os.makedirs(out_dir, exist_ok=True)
    models = {"after": model}
    if model_fn is not None:
        start = model_fn()
        start.build()
        task.restore_start(start, log=lambda *a, **k: None)
        models = {"before": start, "after": model}
    frame = predictivity(task, models, n_components=n_components, n_splits=n_splits, ceiling_splits=ceiling_splits,
                         ceiling_convention=ceiling_convention, random_state=task.seed)
    frame.to_csv(os.path.join(out_dir, "predictivity.csv"), index=False)
    text = format_predictivity(frame)
    with open(os.path.join(out_dir, "predictivity.txt"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    files = ["predictivity.csv", "predictivity.txt"] + [os.path.basename(p) for p in plot_predictivity(frame, out_dir)]
    log(text)
    summary = {"out_dir": out_dir, "predictivity": summarize_predictivity(frame)}
    if generalization:
        from convrnn_tf.training import generalization as gen

        data = task.data
        try:
            labels = gen.labels_from_names(data.category_name, class_names, where="neural stimuli")
        except ValueError as err:  # categories that are not the model's classes: no test on the neural stimuli
            log(f"categorisation on the neural stimuli skipped: {err}")
            labels = None
        kwargs = {} if decoders is None else {"decoders": decoders}
        table = gen.categorization_table(
            models, neural_images=None if labels is None else data.images[data.test_images],
            neural_labels=None if labels is None else labels[data.test_images],
            eval_dataset_fn=dataset_fn, train_dataset_fn=dataset_fn,
            train_batches=decoder_train_batches, eval_batches=eval_steps, batch_size=batch_size, seed=task.seed,
            **kwargs)
        table.to_csv(os.path.join(out_dir, "categorization.csv"), index=False)
        text = gen.format_categorization_table(table)
        with open(os.path.join(out_dir, "categorization.txt"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
        gen.plot_categorization(table, os.path.join(out_dir, "categorization.png"))
        files += ["categorization.csv", "categorization.txt", "categorization.png"]
        log(text)
        summary["categorization"] = table.to_dict(orient="records")
    summary["files"] = files
    log(f"wrote {out_dir}: {', '.join(files)}")
    return summary
