"""Did neural training hurt categorisation? Accuracy before vs after, per temporal decoder and test set.

After the recurrent weights of a categorisation-trained `ConvRNN` are fitted to neural responses
(feedforward weights frozen), "subtle overfitting to image type" would show as a drop in category
accuracy. `categorization_table` measures it for several model states (``{"before": m0, "after": m1}``)
x temporal decoders (the last step, and learned decoders fitted afresh per model state on the
categorisation training split) x test sets (the held-out neural stimuli with their category labels,
and the training task's validation split), in one ``pandas.DataFrame``.

The backbone is frozen throughout, so each model's output-node logits are computed once per image
(`logit_sequences`, ``[N, T', K]`` over the decoded steps) and the decoders are fitted on and
applied to these cached sequences (`fit_decoder`), which is cheap.
"""

from __future__ import annotations

import contextlib
import os
import random
import weakref

import numpy as np

from convrnn_tf import decoders as decoders_lib

NEURAL, VALIDATION = "neural stimuli (held-out)", "validation"
DEFAULT_DECODERS = ("last", {"name": "w_avg", "trainable": True}, "mlp")


# ------------------------------------------------------------------------------------- logits
def decoded_steps(model) -> list[int]:
    """The model's decoded window ``[start, end)`` as step indices, clipped to be non-empty.

    ``start``/``end`` are the model's ``decoder_bounds`` (``decoder_start``/``decoder_end``, by default
    the original's ``len(spec.nodes)`` and ``times``); clipping to ``0 <= start < end <= times``
    keeps at least the last step (so short unrolls decode ``[times - 1]``). The "last" decoder on
    these sequences reads step ``end - 1``, normally the model's last step.
    """
    start, end = (int(b) for b in model.decoder_bounds)
    end = max(min(end, model.times), 1)
    return list(range(min(max(start, 0), end - 1), end))


def num_classes(model) -> int:
    """K of the output node's flat logits ``[B, K]``; a `ValueError` if they are not flat."""
    shape = tuple(model.spec.shapes[model.spec.output].output)
    if len(shape) != 1:
        raise ValueError(f"output node {model.spec.output!r} gives {list(shape)}, not flat class logits [K]")
    return int(shape[0])


def _prepare(model, x, normalize, where):
    from convrnn_tf.features import normalize_images

    x = np.asarray(x)
    rank = 5 if model.presentation.kind == "video" else 4
    if x.ndim != rank:
        raise ValueError(f"{where}: expected {'[N, T, H, W, C] videos' if rank == 5 else '[N, H, W, C] images'}, "
                         f"got shape {x.shape}")
    if normalize is None:  # auto: integer arrays are raw images, float ones already normalised
        normalize = np.issubdtype(x.dtype, np.integer)
    if normalize:
        x = normalize_images(x.reshape((-1,) + x.shape[-3:]), where).reshape(x.shape[:-1] + (3,))
    return x.astype(np.float32)


def check_labels(labels, classes, where="labels", count=None) -> np.ndarray:
    """``labels`` as int64 [N]; a `ValueError` naming ``where`` if not integers in ``[0, classes)``."""
    y = np.asarray(labels)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ValueError(f"{where}: expected integer class labels [N], got dtype {y.dtype} shape {y.shape}")
    if count is not None and len(y) != count:
        raise ValueError(f"{where}: {len(y)} labels for {count} images")
    bad = np.flatnonzero((y < 0) | (y >= classes))
    if bad.size:
        raise ValueError(f"{where}: label {y[bad[0]]} (at index {bad[0]}) is outside the model's {classes} "
                         f"classes [0, {classes})")
    return y.astype(np.int64)


def labels_from_names(names, class_names=None, where="labels") -> np.ndarray:
    """Category names -> class indices in ``class_names`` (default: the embedded dataset's categories)."""
    if class_names is None:
        from convrnn_tf.data._shapes import CATEGORY_NAMES as class_names
    index = {str(c): i for i, c in enumerate(class_names)}
    unknown = sorted({str(n) for n in np.asarray(names).ravel()} - set(index))
    if unknown:
        raise ValueError(f"{where}: unknown category names {unknown}; known: {', '.join(index)}")
    return np.array([index[str(n)] for n in np.asarray(names).ravel()], np.int64)


_UNROLLS = weakref.WeakKeyDictionary()  # model -> {steps: tf.function}, so repeated calls trace once


def _unroll_function(model, steps):
    """A `tf.function` of the output node's float32 logits over ``steps``, cached per model."""
    import tensorflow as tf

    if not model.built:
        model.build()
    cache = _UNROLLS.setdefault(model, {})
    if steps not in cache:
        out, ref = model.spec.output, weakref.ref(model)  # a strong reference would keep the key alive

        @tf.function(reduce_retracing=True, autograph=False)  # the unroll is a static Python loop
        def run(x):
            return tf.cast(ref().unroll(x, outputs=[out], steps=list(steps), training=False)[out], tf.float32)

        cache[steps] = run
    return cache[steps]


def logit_sequences(model, images, *, steps=None, batch_size=32, normalize=None, max_batches=None):
    """Output-node logits over ``steps`` (default `decoded_steps`): float32 ``[N, len(steps), K]``.

    ``images``: an array ``[N, H, W, C]`` -> returns the logits; or a ``tf.data`` dataset of
    ``(images, labels)`` batches (at most ``max_batches`` of them) -> returns ``(logits, labels)``.
    ``normalize``: True normalises like the pipelines (`convrnn_tf.features.normalize_images`), False
    feeds the images as they are, None (default) normalises integer (raw uint8) images only.
    """
    import tensorflow as tf

    steps = decoded_steps(model) if steps is None else [int(t) for t in steps]
    if not steps or min(steps) < 0 or max(steps) >= model.times:
        raise ValueError(f"logit_sequences: steps must be non-empty within 0..{model.times - 1}, got {steps}")
    classes = num_classes(model)
    run = _unroll_function(model, tuple(steps))
    is_dataset = isinstance(images, tf.data.Dataset)
    if is_dataset:
        batches = images if max_batches is None else images.take(int(max_batches))
    else:
        array = _prepare(model, images, normalize, "images")
        batches = [(array[i:i + batch_size], None) for i in range(0, len(array), batch_size)]
    chunks, labels = [], []
    for i, (x, y) in enumerate(batches):
        if is_dataset:
            x = _prepare(model, x, normalize, f"dataset batch {i} images")
            labels.append(check_labels(np.asarray(y).reshape(-1), classes, f"dataset batch {i} labels", len(x)))
        chunks.append(run(tf.constant(x)).numpy())
    if not chunks:
        raise ValueError("logit_sequences: no images (the array or dataset is empty)")
    logits = np.concatenate(chunks)
    return (logits, np.concatenate(labels)) if is_dataset else logits


# ------------------------------------------------------------------------------------- decoders
@contextlib.contextmanager
def _python_seed(seed):
    """Keras initialisers without a seed draw theirs from Python's `random`; scope it to ``seed``."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def fresh_decoder(decoder):
    """A new, unbuilt decoder from a name, config dict or instance (an instance is cloned, not shared)."""
    if hasattr(decoder, "get_config") and hasattr(decoder, "build"):
        return type(decoder).from_config(decoder.get_config())
    return decoders_lib.make(dict(decoder) if isinstance(decoder, dict) else decoder)


def decoder_label(decoder) -> str:
    """A short name: "last", "mlp", "w_avg(trainable=True)"."""
    if isinstance(decoder, dict):
        if "name" not in decoder:
            decoders_lib.make(dict(decoder))  # raises the registry's readable error
        extra = ",".join(f"{k}={v}" for k, v in decoder.items() if k != "name")
        return decoders_lib.get(decoder["name"]).registered_name + (f"({extra})" if extra else "")
    if isinstance(decoder, str):
        return decoders_lib.get(decoder).registered_name
    return getattr(decoder, "registered_name", type(decoder).__name__)


def fit_decoder(decoder, logits, labels, *, steps=200, learning_rate=0.01, batch_size=None, seed=0):
    """Fit only ``decoder``'s trainable weights (Adam, mean cross-entropy plus its own losses) on cached
    logit sequences ``[N, T', K]``; returns the decoder (made by `decoders.make` from a name or config).

    Full-batch by default, else ``batch_size`` examples drawn per step. Deterministic given ``seed``:
    an unbuilt decoder is initialised from it (a built one starts from its weights). Weights that get no
    gradient (thresh/max_conf pick steps by argmax) are left as they are, so a decoder with no trainable
    weights ("last") or none with a gradient is returned unchanged.
    """
    import keras
    import tensorflow as tf

    dec = decoders_lib.make(decoder)
    x = np.asarray(logits, np.float32)
    if x.ndim != 3 or not x.size:
        raise ValueError(f"fit_decoder: expected non-empty logit sequences [N, T', K], got shape {x.shape}")
    y = check_labels(labels, x.shape[2], "fit_decoder labels", len(x))
    if not dec.built:
        with _python_seed(seed):
            dec.build((None,) + x.shape[1:])
    def loss_fn(xb, yb):
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(yb, dec(xb), from_logits=True))
        return loss + tf.add_n(dec.losses) if dec.losses else loss

    weights = dec.trainable_weights
    if weights and steps > 0:  # keep those with a gradient (thresh/max_conf choose steps by argmax)
        with tf.GradientTape() as tape:
            probe = loss_fn(tf.constant(x[:2]), tf.constant(y[:2]))
        weights = [w for w, g in zip(weights, tape.gradient(probe, weights)) if g is not None]
    if not weights or steps <= 0:
        return dec
    opt = keras.optimizers.Adam(learning_rate)
    opt.build(weights)

    @tf.function(reduce_retracing=True, autograph=False)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(xb, yb)
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    rng = np.random.default_rng(seed)
    full = (tf.constant(x), tf.constant(y))
    for _ in range(int(steps)):
        if batch_size is None or batch_size >= len(x):
            step(*full)
        else:
            idx = np.sort(rng.choice(len(x), int(batch_size), replace=False))
            step(tf.constant(x[idx]), tf.constant(y[idx]))
    return dec


def decoder_accuracy(decoder, logits, labels, chunk=4096) -> float:
    """Top-1 accuracy of ``decoder`` on logit sequences (argmax; ties go to the first class)."""
    pred = np.concatenate([np.asarray(decoder(logits[i:i + chunk])).argmax(-1) for i in range(0, len(logits), chunk)])
    return float(np.mean(pred == np.asarray(labels)))


# ------------------------------------------------------------------------------------- the table
def categorization_table(models, *, neural_images=None, neural_labels=None, eval_dataset_fn=None,
                         train_dataset_fn=None, decoders=DEFAULT_DECODERS, train_batches=50, eval_batches=None,
                         batch_size=32, seed=0, fit_steps=200, learning_rate=0.01, class_names=None,
                         normalize=None, steps=None):
    """Categorisation accuracy per model state x decoder x test set: a DataFrame with columns model,
    decoder, test_set, accuracy, n (images), chance (always guessing the test set's commonest label).

    ``models``: ``{state name: ConvRNN}``. Test sets: ``neural_images`` (raw or normalised, see
    `logit_sequences`) with ``neural_labels`` (class indices, or category names looked up in
    ``class_names``, default the embedded categories), and ``eval_dataset_fn(batch_size, training=False)``
    (``eval_batches`` batches, default all); a missing one is skipped. Each model gets its own fresh
    instance of every decoder; learned ones are fitted (`fit_decoder`) on ``train_batches`` batches of
    ``train_dataset_fn(batch_size, training=True)``.
    """
    import pandas as pd

    if not isinstance(models, dict) or not models:
        raise ValueError("categorization_table: models must be a non-empty dict {state name: ConvRNN}")
    if neural_images is None and eval_dataset_fn is None:
        raise ValueError("categorization_table: no test set; give neural_images/neural_labels or eval_dataset_fn")
    if (neural_images is None) != (neural_labels is None):
        raise ValueError("categorization_table: give both neural_images and neural_labels, or neither")
    if neural_labels is not None and np.asarray(neural_labels).dtype.kind in "USO":
        neural_labels = labels_from_names(neural_labels, class_names, "neural_labels")
    labels = [decoder_label(d) for d in decoders]
    if len(set(labels)) != len(labels) or not labels:
        raise ValueError(f"categorization_table: decoders must be non-empty and distinct, got {labels}")
    plans = {}  # first check everything that needs no unrolling: labels, decoder shapes, training data
    for state, model in models.items():
        classes, window = num_classes(model), decoded_steps(model) if steps is None else list(steps)
        y = None if neural_images is None else check_labels(neural_labels, classes, "neural_labels",
                                                            len(np.asarray(neural_images)))
        fresh = [fresh_decoder(d) for d in decoders]  # one instance per model: never shared
        for dec, label in zip(fresh, labels):
            with _python_seed(seed):  # as fit_decoder would; built now to see whether it has weights
                dec.build((None, len(window), classes))
            if dec.trainable_weights and train_dataset_fn is None:
                raise ValueError(f"categorization_table: decoder {label!r} has weights to fit but no "
                                 "train_dataset_fn was given")
        plans[state] = (y, fresh)
    if train_dataset_fn is not None and not (isinstance(train_batches, (int, np.integer)) and train_batches > 0):
        raise ValueError(f"categorization_table: train_batches must be a positive int, got {train_batches!r}")
    rows = []
    for state, model in models.items():
        y, fresh = plans[state]
        tests = {}
        if neural_images is not None:
            tests[NEURAL] = (logit_sequences(model, neural_images, steps=steps, batch_size=batch_size,
                                             normalize=normalize), y)
        if eval_dataset_fn is not None:
            tests[VALIDATION] = logit_sequences(model, eval_dataset_fn(batch_size, training=False), steps=steps,
                                                max_batches=eval_batches)
        train = None
        for dec, label in zip(fresh, labels):
            if dec.trainable_weights:
                if train is None:
                    train = logit_sequences(model, train_dataset_fn(batch_size, training=True), steps=steps,
                                            max_batches=int(train_batches))
                dec = fit_decoder(dec, *train, steps=fit_steps, learning_rate=learning_rate, seed=seed)
            for test_set, (x, yt) in tests.items():
                rows.append(dict(model=str(state), decoder=label, test_set=test_set, accuracy=decoder_accuracy(
                    dec, x, yt), n=len(yt), chance=float(np.bincount(yt).max() / len(yt))))
    return pd.DataFrame(rows, columns=["model", "decoder", "test_set", "accuracy", "n", "chance"])


def format_categorization_table(frame) -> str:
    """One screen: a row per (decoder, test set), a column per model state, and last minus first."""
    states = list(dict.fromkeys(frame["model"]))
    diff = f"{states[-1]}-{states[0]}" if len(states) > 1 else None
    width = max([len(s) for s in states] + [8])
    header = f"{'decoder':<28} {'test set':<26} {'n':>6} {'chance':>6} " + " ".join(f"{s:>{width}}" for s in states)
    lines = ["top-1 categorisation accuracy", header + (f" {diff:>{max(len(diff), 8)}}" if diff else "")]
    for (dec, test_set), g in frame.groupby(["decoder", "test_set"], sort=False):
        acc = {s: float(g.loc[g["model"] == s, "accuracy"].iloc[0]) if (g["model"] == s).any() else np.nan
               for s in states}
        line = f"{dec:<28} {test_set:<26} {int(g['n'].iloc[0]):>6} {float(g['chance'].iloc[0]):>6.3f} "
        line += " ".join(f"{acc[s]:>{width}.3f}" for s in states)
        if diff:
            line += f" {acc[states[-1]] - acc[states[0]]:>+{max(len(diff), 8)}.3f}"
        lines.append(line)
    return "\n".join(lines)


def plot_categorization(frame, path):
    """A grouped bar chart PNG at ``path``: one panel per test set, decoders on x, a bar per model
    state, chance as a dashed line; returns ``path``."""
    from convrnn_tf.neural.report import _plt

    plt = _plt()
    test_sets = list(dict.fromkeys(frame["test_set"]))
    states = list(dict.fromkeys(frame["model"]))
    fig, axes = plt.subplots(1, len(test_sets), figsize=(4.5 * len(test_sets) + 1, 4), squeeze=False)
    width = 0.8 / len(states)
    for ax, test_set in zip(axes[0], test_sets):
        part = frame[frame["test_set"] == test_set]
        decs = list(dict.fromkeys(part["decoder"]))
        for i, state in enumerate(states):
            acc = [part.loc[(part["decoder"] == d) & (part["model"] == state), "accuracy"].mean() for d in decs]
            ax.bar(np.arange(len(decs)) + (i - (len(states) - 1) / 2) * width, acc, width, label=state)
        ax.axhline(float(part["chance"].max()), color="k", ls="--", lw=1, label="chance")
        ax.set_xticks(np.arange(len(decs)), decs, rotation=20, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{test_set} (n={int(part['n'].iloc[0])})", fontsize=9)
        ax.set_ylabel("top-1 accuracy")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
