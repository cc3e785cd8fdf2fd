"""The training loop: a `tf.distribute` custom loop with resumable, never-corrupt checkpoints.

Testable without flags or gin: the binaries (`bin/train`, `bin/evaluate`) parse those and call
`train` / `evaluate` with plain Python objects.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from convrnn_tf.training import distribute
from convrnn_tf.training.tasks import ClassificationTask


class TrainingError(RuntimeError):
    """Training stopped; the message says why and which checkpoint is the last good one."""


def _is_distributed(strategy):
    return strategy.num_replicas_in_sync > 1 or isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _distribute(strategy, dataset_fn, per_replica_batch, training, skip=0):
    def fn(ctx):
        ds = dataset_fn(per_replica_batch, training=training, input_context=ctx)
        return ds.skip(skip) if skip else ds

    if not _is_distributed(strategy):
        return fn(None)
    return strategy.distribute_datasets_from_function(fn)


def train(model_dir: str, model_fn: Callable, dataset_fn: Callable, *, strategy=None, train_steps: int = 100,
          global_batch_size: int = 32, optimizer_fn: Callable | None = None, loss_steps=None,
          checkpoint_every: int = 50, log_every: int = 10, keep_checkpoints: int = 3, seed: int = 0,
          jit_compile: bool = False, eval_dataset_fn: Callable | None = None, eval_steps: int | None = None,
          summaries: bool = True, after_first_step: Callable | None = None, verbose: bool = True,
          task=None) -> dict:
    """Train ``model_fn()`` on ``dataset_fn`` for ``train_steps`` steps, resuming from ``model_dir``.

    ``dataset_fn(batch_size, training, input_context)`` returns a `tf.data.Dataset` of
    ``(images, labels)`` batches of the per-replica size (infinite when training).
    ``optimizer_fn(total_steps)`` returns an optimizer (default: SGD + Nesterov, cosine decay).
    ``loss_steps`` averages the cross-entropy over those time steps of the output node instead of
    decoding. ``task`` (a `convrnn_tf.training.tasks.Task`) replaces that objective: it gives the
    loss, the variables to train, extra checkpointed objects and the final evaluation (default:
    ``ClassificationTask(loss_steps)``). Returns a summary dict (final loss, the task's metric,
    images/s, checkpoint path).
    """
    task = ClassificationTask(loss_steps) if task is None else task
    log = print if verbose else (lambda *a, **k: None)
    strategy = strategy or tf.distribute.get_strategy()
    chief = distribute.is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(f"global_batch_size {global_batch_size} is not divisible by {replicas} replicas")
    os.makedirs(model_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = model_fn()
        model.build()
        task.setup(model, log=log)
        variables = task.trainable_variables(model)
        if optimizer_fn is None:
            from convrnn_tf.training.optim import WarmupSchedule, make_optimizer

            optimizer = make_optimizer(WarmupSchedule(0.01, train_steps))
        else:
            optimizer = optimizer_fn(train_steps)
        if keras.config.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # float16 needs loss scaling
        # Build the optimizer before restoring, or its slots are silently not restored.
        optimizer.build(variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    # One device: the input iterator is checkpointed. Distributed iterators are not trackable, so
    # a resumed distributed run replays its (deterministic) pipeline up to the restored step.
    distributed = _is_distributed(strategy)
    state = dict(model=model, optimizer=optimizer, step=step_var, **task.checkpoint_objects())
    if not distributed:
        iterator = iter(_distribute(strategy, dataset_fn, global_batch_size, training=True))
        state["iterator"] = iterator
    ckpt = tf.train.Checkpoint(**state)
    # Every worker saves (saving is collective); only the chief writes where users look.
    ckpt_dir = os.path.join(model_dir, "checkpoints") if chief else os.path.join(
        model_dir, f"tmp_worker_{strategy.cluster_resolver.task_id}")
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=keep_checkpoints)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        if verbose:
            print(f"resumed from {manager.latest_checkpoint} at step {int(step_var.numpy())}")
    if distributed:
        iterator = iter(_distribute(strategy, dataset_fn, global_batch_size // replicas, training=True,
                                    skip=int(step_var.numpy())))

    def step_fn(x, y):
        with tf.GradientTape() as tape:
            per_example, metric = task.loss(model, x, y, training=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            reg = task.regularization(model) / replicas
            total = loss + reg
            scaled = optimizer.scale_loss(total) if hasattr(optimizer, "scale_loss") else total
        grads = task.transform_gradients(tape.gradient(scaled, variables), variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, reg, metric

    grad_step = tf.function(step_fn, jit_compile=jit_compile) if jit_compile and replicas == 1 else step_fn

    @tf.function
    def train_step(iterator):
        x, y = next(iterator)
        loss, reg, correct = strategy.run(grad_step, args=(x, y))
        task.constrain()  # cross-replica context: exact, on every replica
        return (strategy.reduce("SUM", loss, axis=None), strategy.reduce("SUM", reg, axis=None),
                strategy.reduce("SUM", correct, axis=None))

    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) if summaries and chief else None
    start = int(step_var.numpy())
    metric = task.metric_name
    short = "acc" if metric == "accuracy" else metric
    progbar = keras.utils.Progbar(train_steps, stateful_metrics=["loss", short, "img/s"]) if verbose else None
    t0, last, seen, history = time.perf_counter(), None, 0, []
    for step in range(start, train_steps):
        loss, reg, correct = (float(v) for v in train_step(iterator))
        if not np.isfinite(loss) or not np.isfinite(reg):
            raise TrainingError(
                f"non-finite loss ({loss}, regularisation {reg}) at step {step}; training stopped. "
                f"The last good checkpoint is {manager.latest_checkpoint or 'none (none was written)'}; "
                "lower the learning rate or check the inputs for NaNs."
            )
        step_var.assign_add(1)
        seen += global_batch_size
        if step == start and after_first_step is not None and chief:
            after_first_step()
        rate = seen / (time.perf_counter() - t0)
        last = {"step": step + 1, "loss": loss, "regularization": reg, metric: correct / global_batch_size,
                "images_per_second": rate}
        history.append(loss)
        if progbar is not None:
            progbar.update(step + 1, [("loss", loss), (short, last[metric]), ("img/s", rate)])
        if writer is not None and ((step + 1) % log_every == 0 or step + 1 == train_steps):
            lr = optimizer.learning_rate
            with writer.as_default(step=step + 1):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("regularization", reg)
                tf.summary.scalar(metric, last[metric])
                tf.summary.scalar("learning_rate", float(lr(step) if callable(lr) else lr))
                tf.summary.scalar("images_per_second", rate)
        if (step + 1) % checkpoint_every == 0 or step + 1 == train_steps:
            manager.save(checkpoint_number=step + 1)
    summary = {"model_dir": model_dir, "steps": train_steps, "resumed_from": start,
               "checkpoint": manager.latest_checkpoint, **(last or {})}
    result = task.evaluate(model, dataset_fn=eval_dataset_fn, strategy=strategy, steps=eval_steps,
                           global_batch_size=global_batch_size, model_fn=model_fn,
                           model_dir=model_dir if chief else None, log=log)
    if result is not None:
        summary["eval"] = result
        if writer is not None and "top1_per_step" in result:
            with writer.as_default(step=train_steps):
                for t, acc in enumerate(summary["eval"]["top1_per_step"]):
                    tf.summary.scalar(f"eval/top1_step_{t:02d}", acc)
                tf.summary.scalar("eval/top1", summary["eval"]["top1"])
    if chief:
        with open(os.path.join(model_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1, default=float)
    summary["model"] = model
    return summary


def evaluate(model, dataset_fn: Callable, *, strategy=None, steps: int | None = None,
             global_batch_size: int = 32) -> dict:
    """Top-1/top-5 of the decoded output, and per time step of the output node."""
    strategy = strategy or tf.distribute.get_strategy()
    dataset = dataset_fn(global_batch_size, training=False, input_context=None)
    if steps is not None:
        dataset = dataset.take(steps)
    T = model.times

    @tf.function
    def eval_step(x, y):
        logits = model(x, training=False)
        seq = tf.cast(model.unroll(x, training=False)[model.spec.output], tf.float32)
        y = tf.cast(y, tf.int32)

        def top(lg, k):  # ties broken by class index, as argmax (in_top_k would count them all)
            idx = tf.math.top_k(lg, k=min(k, lg.shape[-1])).indices
            return tf.cast(tf.reduce_any(tf.equal(idx, y[:, None]), axis=-1), tf.float32)

        per_step1 = tf.stack([tf.reduce_sum(top(seq[:, t], 1)) for t in range(T)])
        per_step5 = tf.stack([tf.reduce_sum(top(seq[:, t], 5)) for t in range(T)])
        return tf.reduce_sum(top(logits, 1)), tf.reduce_sum(top(logits, 5)), per_step1, per_step5, tf.shape(y)[0]

    n, c1, c5, s1, s5 = 0, 0.0, 0.0, np.zeros(T), np.zeros(T)
    for x, y in dataset:
        a, b, p1, p5, m = eval_step(x, y)
        c1, c5, s1, s5, n = c1 + float(a), c5 + float(b), s1 + p1.numpy(), s5 + p5.numpy(), n + int(m)
    if n == 0:
        raise ValueError("evaluate: the evaluation dataset is empty")
    return {"examples": n, "top1": c1 / n, "top5": c5 / n,
            "top1_per_step": (s1 / n).tolist(), "top5_per_step": (s5 / n).tolist()}
