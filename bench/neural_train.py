#!/usr/bin/env python3
"""Neural-training step cost, side by side: frozen feedforward vs everything trained vs categorisation.

The quickstart convRNN unrolled for ``--times`` steps (26 covers 70-260 ms) on a simulated V4/IT
recording. Variants, interleaved round by round in one process so machine noise hits all alike:

* ``neural (frozen ff)``: the default `NeuralTask` (cells, feedback rows, decoder trained);
* ``neural (all trained)``: the same task with every variable trained (``train_patterns=[".*"]``);
* ``categorisation``: cross-entropy of the last step (`ClassificationTask`), same model and batch.

    python bench/neural_train.py [--steps 5] [--rounds 2] [--batch_size 16] [--times 26]
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import hardware  # noqa: E402

from convrnn_tf.neural.simulate import simulate_recording  # noqa: E402
from convrnn_tf.training.neural_task import NeuralTask  # noqa: E402
from convrnn_tf.training.optim import make_optimizer  # noqa: E402
from convrnn_tf.training.tasks import ClassificationTask  # noqa: E402
from train import quickstart_model  # noqa: E402


def make_step(task, model, x, y):
    variables = task.trainable_variables(model)
    optimizer = make_optimizer(1e-3, name="adam", clipvalue=None)
    optimizer.build(variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            per_example, _ = task.loss(model, x, y, training=True)
            loss = tf.reduce_mean(per_example)
        grads = task.transform_gradients(tape.gradient(loss, variables), variables)
        optimizer.apply_gradients(zip(grads, variables))
        task.constrain()
        return loss

    step()  # trace
    return step, sum(int(np.prod(v.shape)) for v in variables)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--times", type=int, default=26)
    a = p.parse_args()
    print(hardware())
    rec = simulate_recording(image_size=32, images_per_object=2, n_v4=40, n_it=40, n_reps=4)
    keras.utils.set_random_seed(0)
    start = quickstart_model(times=a.times)
    start.build()
    ckpt = tf.train.Checkpoint(model=start).write(os.path.join(tempfile.mkdtemp(), "ckpt"))
    regions = {"V4": "conv2", "IT": "conv4"}
    variants = {}
    for name, kwargs in (("neural (frozen ff)", {}), ("neural (all trained)", {"train_patterns": [".*"]})):
        task = NeuralTask(neural=rec, region_layers=regions, init_checkpoint=ckpt, report=False, **kwargs)
        model = quickstart_model(times=a.times)
        model.build()
        task.setup(model, log=lambda *args: None)
        x, y = next(iter(task.dataset_fn(a.batch_size, training=True)))
        variants[name] = make_step(task, model, x, y)
    model = quickstart_model(times=a.times)
    model.build()
    x = tf.random.normal((a.batch_size, 32, 32, 3))
    y = tf.random.uniform((a.batch_size,), 0, 8, tf.int32)
    variants["categorisation"] = make_step(ClassificationTask(), model, x, y)
    times = {k: [] for k in variants}
    for _ in range(a.rounds):
        for name, (step, _) in variants.items():
            t0 = time.perf_counter()
            for _ in range(a.steps):
                step()
            times[name].append((time.perf_counter() - t0) / a.steps)
    base = np.median(times["neural (frozen ff)"])
    print(f"quickstart convRNN, {a.times} steps, batch {a.batch_size}, {a.steps} steps x {a.rounds} rounds")
    print(f"{'variant':<22} {'trained scalars':>16} {'s/step':>8} {'img/s':>7} {'x frozen':>9}")
    for name, (_, n) in variants.items():
        t = float(np.median(times[name]))
        print(f"{name:<22} {n:>16,} {t:>8.3f} {a.batch_size / t:>7.1f} {t / base:>9.2f}")


if __name__ == "__main__":
    main()
