"""What one gin file configures: model, data, optimizer and the run, as plain factories.

`convrnn_tf.configurables` registers these with gin; the binaries call them. Each takes plain
Python values, so they are also the programmatic API.
"""

from __future__ import annotations

import os

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.training import trainer
from convrnn_tf.training.optim import ORIGINAL_CLIP, WarmupSchedule, make_optimizer


def build_model(zoo_name=None, spec=None, **kwargs):
    """A `ConvRNN` from a zoo name (``zoo.build``), a `GraphSpec`/JSON path, or a chain spec."""
    if (zoo_name is None) == (spec is None):
        raise ValueError("build_model: give exactly one of zoo_name= or spec=")
    if zoo_name is not None:
        from convrnn_tf import zoo

        return zoo.build(zoo_name, **kwargs)
    return ConvRNN(spec, **kwargs)


def feedforward_spec(zoo_name=None, spec=None):
    """The feedforward baseline (no cells, no feedback) of a zoo model or a spec."""
    if zoo_name is not None:
        from convrnn_tf import zoo

        spec = zoo.model_spec(zoo_name)
    if spec is None:
        raise ValueError("feedforward_spec: give zoo_name= or spec=")
    return builders.feedforward(spec)


def chain_spec(**kwargs):
    """`convrnn_tf.graph.builders.chain` (for gin: ``build_model.spec = @chain_spec()``)."""
    return builders.chain(**kwargs)


def dataset(name="embedded", image_size=64, data_dir=None, train_split="train", eval_split="validation",
            seed=0, deterministic=True, **kwargs):
    """``dataset_fn(batch_size, training, input_context)`` for the trainer.

    ``name`` is "embedded" (the offline default), a folder of class sub-folders, or a
    tensorflow-datasets name such as "imagenet2012" (prepared locally; see `data.pipelines`).
    """
    from convrnn_tf.data import pipelines

    def fn(batch_size, training, input_context=None):
        split = train_split if training else eval_split
        common = dict(training=training, image_size=image_size, seed=seed, deterministic=deterministic,
                      input_context=input_context)
        if name == "embedded":
            return pipelines.embedded_pipeline(split, batch_size, data_dir=data_dir, **common, **kwargs)
        if os.path.isdir(name):
            return pipelines.folder_dataset(os.path.join(name, split) if os.path.isdir(os.path.join(name, split))
                                            else name, batch_size, **common, **kwargs)
        return pipelines.tfds_dataset(name, split, batch_size, data_dir=data_dir, **common, **kwargs)

    return fn


def optimizer(name="sgd", base_lr=0.01, schedule="cosine", warmup_steps=0, boundaries=(), decay_rate=0.1,
              momentum=0.9, nesterov=True, clipvalue=ORIGINAL_CLIP, clipnorm=None, mixed_float16=False):
    """``optimizer_fn(total_steps)``: SGD + Nesterov 0.9 with the original's clipping by default."""

    def fn(total_steps):
        lr = WarmupSchedule(base_lr, total_steps, schedule, warmup_steps, boundaries, decay_rate)
        return make_optimizer(lr, name, momentum, nesterov, clipvalue, clipnorm, mixed_float16)

    return fn


def run(model_dir, *, mode="train", strategy=None, model_fn=None, dataset_fn=None, optimizer_fn=None,
        train_steps=100, batch_size=32, loss_steps=None, checkpoint_every=50, log_every=10, seed=0,
        jit_compile=False, evaluate=True, eval_steps=None, after_first_step=None, verbose=True, task=None):
    """``mode="train"``: train (resuming from ``model_dir``) and evaluate, the body of ``bin/train``;
    ``mode="evaluate"``: evaluate the latest checkpoint, the body of ``bin/evaluate``.

    ``task`` (a `convrnn_tf.training.tasks.Task`, e.g. ``@neural_task()``) replaces categorisation;
    a task with its own data trains on it, and ``dataset_fn`` (the categorisation data) then serves
    its evaluation (e.g. the generalisation test of neural training)."""
    if model_fn is None or dataset_fn is None:
        raise ValueError("run: model_fn and dataset_fn must be configured (e.g. in the gin file)")
    if mode == "evaluate":
        return evaluate_checkpoint(model_dir, strategy=strategy, model_fn=model_fn, dataset_fn=dataset_fn,
                                   batch_size=batch_size, eval_steps=eval_steps)
    if mode != "train":
        raise ValueError(f"run: mode must be 'train' or 'evaluate', got {mode!r}")
    train_fn = getattr(task, "dataset_fn", None) or dataset_fn
    return trainer.train(
        model_dir, model_fn, train_fn, strategy=strategy, task=task, train_steps=train_steps,
        global_batch_size=batch_size, optimizer_fn=optimizer_fn, loss_steps=loss_steps,
        checkpoint_every=checkpoint_every, log_every=log_every, seed=seed, jit_compile=jit_compile,
        eval_dataset_fn=dataset_fn if evaluate else None, eval_steps=eval_steps,
        after_first_step=after_first_step, verbose=verbose)


def evaluate_checkpoint(model_dir, *, strategy=None, model_fn=None, dataset_fn=None, batch_size=32,
                        eval_steps=None):
    """Restore the latest checkpoint in ``model_dir`` and evaluate it (the body of ``bin/evaluate``)."""
    import tensorflow as tf

    if model_fn is None or dataset_fn is None:
        raise ValueError("evaluate_checkpoint: model_fn and dataset_fn must be configured")
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    if path is None:
        raise FileNotFoundError(f"no checkpoint under {os.path.join(model_dir, 'checkpoints')!r}; train first")
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = model_fn()
        model.build()
    tf.train.Checkpoint(model=model).restore(path).expect_partial().assert_existing_objects_matched()
    result = trainer.evaluate(model, dataset_fn, strategy=strategy, steps=eval_steps, global_batch_size=batch_size)
    return {"checkpoint": path, **result}


def format_summary(summary) -> str:
    """The one-screen end-of-training summary."""
    lines = [f"trained {summary.get('steps')} steps (resumed from step {summary.get('resumed_from')}) "
             f"into {summary.get('model_dir')}",
             f"last step: loss {summary.get('loss', float('nan')):.4f}, "
             + (f"batch accuracy {summary['accuracy']:.3f}" if "accuracy" in summary else
                f"batch correlation r {summary.get('r', float('nan')):.3f}")
             + f", {summary.get('images_per_second', 0):.0f} images/s",
             f"checkpoint: {summary.get('checkpoint')}"]
    ev = summary.get("eval")
    if ev and "predictivity" in ev:
        lines.append(f"neural training report: {ev['out_dir']}")
        for region, by_neurons in ev["predictivity"].items():
            for neurons, by_images in by_neurons.items():
                d = by_images.get("held-out", {})
                if "after" in d:
                    lines.append(f"{region} {neurons} neurons, held-out images: ceiled predictivity "
                                 f"{d.get('before', float('nan')):.3f} -> {d['after']:.3f} "
                                 f"(late bins {d.get('late_before', float('nan')):.3f} -> {d['late_after']:.3f})")
    elif ev:
        lines.append(f"evaluation ({ev['examples']} images): top-1 {ev['top1']:.4f}, top-5 {ev['top5']:.4f}")
        lines.append("top-1 per time step: " + " ".join(f"{a:.2f}" for a in ev["top1_per_step"]))
    return "\n".join(lines)
