#!/usr/bin/env python3
"""Training throughput (images/s) side by side: precision, XLA, pruning, input pipeline.

For the quickstart model (64x64 embedded images) and optionally a zoo model, each variant runs
the same number of timed steps, interleaved round by round in one process so machine noise hits
all alike; ratios are against the float32 / no-jit / pruned / pipeline baseline.

    python bench/train.py [--steps 5] [--rounds 2] [--batch_size 32] [--zoo rgc_shallow]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import hardware  # noqa: E402

from convrnn_tf.training import experiment  # noqa: E402
from convrnn_tf.training.optim import make_optimizer  # noqa: E402


def quickstart_model(prune=True, size=32, times=6):
    """The model of gin/quickstart.gin (32x32, 6 steps); ``--size``/``--times`` change it."""
    spec = experiment.chain_spec(depth=5, input_shape=(size, size, 3), base_depth=16, classes=8, cell="gru",
                                 feedback=[("conv4", "conv2")])
    return experiment.build_model(spec=spec, times=times, prune=prune)


def make_variant(model_fn, policy, jit, data, batch):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    model = model_fn()
    model.build()
    opt = make_optimizer(0.01)
    opt.build(model.trainable_variables)
    keras.config.set_dtype_policy("float32")
    size = model.spec.nodes[model.spec.inputs[0]].shape[0]
    classes = model.spec.shapes[model.spec.output].output[0]
    if data == "pipeline":
        it = iter(experiment.dataset("embedded", image_size=min(size, 64))(batch, training=True))
    else:
        x = tf.constant(np.random.default_rng(0).normal(size=(batch, min(size, 64), min(size, 64), 3)), tf.float32)
        y = tf.constant(np.arange(batch) % classes, tf.int32)
        it = None

    def grads(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        return tape.gradient(loss, model.trainable_variables)

    grads = tf.function(grads, jit_compile=jit)

    def step():
        xb, yb = next(it) if it is not None else (x, y)
        g = grads(xb, yb)
        opt.apply_gradients(zip(g, model.trainable_variables))
        return g[0]

    return step


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--zoo", default=None, help="also bench this zoo model (images resized to its input)")
    p.add_argument("--size", type=int, default=32, help="quickstart model input size")
    p.add_argument("--times", type=int, default=6, help="quickstart model time steps")
    args = p.parse_args()
    print(f"hardware: {hardware()}")
    models = {"quickstart": lambda prune=True: quickstart_model(prune, args.size, args.times)}
    if args.zoo:
        from convrnn_tf import zoo

        models[args.zoo] = lambda prune=True: zoo.build(args.zoo, prune=prune)
    for name, fn in models.items():
        variants = {
            "baseline (f32, no jit, pruned, pipeline)": (lambda: fn(True), "float32", False, "pipeline"),
            "mixed_bfloat16": (lambda: fn(True), "mixed_bfloat16", False, "pipeline"),
            "jit_compile": (lambda: fn(True), "float32", True, "pipeline"),
            "unpruned": (lambda: fn(False), "float32", False, "pipeline"),
            "cached tensors (no pipeline)": (lambda: fn(True), "float32", False, "cached"),
        }
        steps = {}
        for k, (mf, policy, jit, data) in variants.items():
            try:
                steps[k] = make_variant(mf, policy, jit, data, args.batch_size)
                steps[k]().numpy()  # trace and warm up
            except Exception as err:  # a variant that cannot run here is reported, not fatal
                print(f"{name}: {k}: failed: {type(err).__name__}: {str(err)[:200]}")
                steps.pop(k, None)
        times = {k: [] for k in steps}
        for _ in range(args.rounds):
            for k, s in steps.items():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    s()
                s().numpy()
                times[k].append((time.perf_counter() - t0) / (args.steps + 1))
        base = np.median(times[next(iter(times))])
        print(f"\n{name}: batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds")
        for k, ts in times.items():
            ips = args.batch_size / np.median(ts)
            print(f"  {k:<42} {ips:8.1f} img/s   x{base / np.median(ts):5.2f} vs baseline")


if __name__ == "__main__":
    main()
