#!/usr/bin/env python3
"""Forward+backward time per batch of the pruned unroll vs the naive one (prune=False).

The issue's case: an 11-layer feedforward chain (every node with a learned time decay), 64x64
input, T=17, last-step decoder. Both models share weights and run interleaved in one process,
so machine noise hits both alike; the ratio is the number to read.

    python bench/unroll.py [--batch_size 16] [--repeats 5] [--policy float32|mixed_bfloat16]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from convrnn_tf.graph import builders  # noqa: E402
from convrnn_tf.model import ConvRNN  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import hardware  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--policy", default="float32")
    args = p.parse_args()
    keras.config.set_dtype_policy(args.policy)
    keras.utils.set_random_seed(0)
    spec = builders.chain(11, input_shape=(64, 64, 3), base_depth=16, classes=100, recurrent_from=1,
                          stateful_readout=True)
    models = {"pruned": ConvRNN(spec, times=17, prune=True), "naive": ConvRNN(spec, times=17, prune=False)}
    models["pruned"].build()
    models["naive"].build()
    models["naive"].set_weights(models["pruned"].get_weights())
    x = tf.constant(np.random.default_rng(0).uniform(0, 1, (args.batch_size, 64, 64, 3)), tf.float32)
    y = tf.constant(np.arange(args.batch_size) % 100)

    def make_step(model):
        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            grads = tape.gradient(loss, model.trainable_variables)
            return loss, grads

        return step

    steps = {k: make_step(m) for k, m in models.items()}
    losses = {k: float(s(x, y)[0]) for k, s in steps.items()}  # trace + warm up
    times = {k: [] for k in steps}
    for _ in range(args.repeats):
        for k, s in steps.items():
            t0 = time.perf_counter()
            loss, grads = s(x, y)
            _ = [g.numpy() for g in grads if g is not None]
            times[k].append(time.perf_counter() - t0)
    print(f"hardware: {hardware()}")
    print(f"policy {args.policy}, batch {args.batch_size}, T=17, 11-node chain at 64x64, {args.repeats} repeats")
    for k, m in models.items():
        plan = m.plan()
        print(f"{k:>7}: {plan.batched_node_steps:3d} batched + {plan.shared_node_steps:3d} shared node-steps; "
              f"fwd+bwd median {np.median(times[k]) * 1e3:8.1f} ms (min {min(times[k]) * 1e3:.1f}); loss {losses[k]:.6f}")
    print(f"speed-up naive/pruned: {np.median(times['naive']) / np.median(times['pruned']):.2f}x "
          f"(losses equal: {np.isclose(losses['naive'], losses['pruned'], rtol=1e-5)})")


if __name__ == "__main__":
    main()
