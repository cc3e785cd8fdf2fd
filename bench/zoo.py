#!/usr/bin/env python3
"""Inference images/s of zoo models at 224x224 with their default presentation and T:
float32 vs mixed_bfloat16, pruned vs unpruned (``prune=False``, the naive unroll).

All variants of a model share weights and are timed interleaved in one process, so machine noise
hits them alike; the ratios are the numbers to read. Timing is of ``model(images)`` (the decoded
logits) in a ``tf.function``, after one warm-up call that traces it.

    python bench/zoo.py [--models rgc_shallow,rgc_intermediate] [--batch_size 8] [--repeats 3]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from convrnn_tf import zoo  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import hardware  # noqa: E402

tf.get_logger().setLevel("ERROR")  # each variant is its own tf.function; no retracing warnings

POLICIES = ("float32", "mixed_bfloat16")


def variants(name):
    """{(policy, pruned): tf.function over model(x)} sharing one set of weights."""
    out, weights = {}, None
    for policy in POLICIES:
        keras.config.set_dtype_policy(policy)
        for prune in (True, False):
            model = zoo.build(name, prune=prune)
            model.build()
            if weights is None:
                weights = model.get_weights()
            else:
                model.set_weights(weights)
            out[policy, prune] = (model, tf.function(lambda x, m=model: m(x)))
    keras.config.set_dtype_policy("float32")
    return out


def bench(name, batch_size, repeats):
    x = tf.constant(np.random.default_rng(0).normal(size=(batch_size, 224, 224, 3)), tf.float32)
    runs = variants(name)
    logits = {k: np.asarray(fn(x), np.float32) for k, (_, fn) in runs.items()}  # trace + warm up
    times = {k: [] for k in runs}
    for _ in range(repeats):
        for k, (_, fn) in runs.items():
            t0 = time.perf_counter()
            np.asarray(fn(x))
            times[k].append(time.perf_counter() - t0)
    model = runs["float32", True][0]
    print(f"\n{name}: T={model.times}, {model.presentation.kind} (image off at {model.presentation.image_off}), "
          f"batch {batch_size}, {repeats} repeats")
    rate = {k: batch_size / np.median(v) for k, v in times.items()}
    for (policy, prune), r in rate.items():
        plan = runs[policy, prune][0].plan()
        print(f"  {policy:>14} {'pruned' if prune else 'unpruned':>8}: {r:8.2f} images/s "
              f"(median {np.median(times[policy, prune]):.3f} s/batch; {plan.batched_node_steps} batched + "
              f"{plan.shared_node_steps} shared node-steps)")
    for policy in POLICIES:
        diff = np.abs(logits[policy, True] - logits[policy, False]).max()
        print(f"  pruned/unpruned speed ({policy}): {rate[policy, True] / rate[policy, False]:.2f}x "
              f"(max |logit diff| {diff:.2e})")
    for prune in (True, False):
        print(f"  mixed_bfloat16/float32 speed ({'pruned' if prune else 'unpruned'}): "
              f"{rate['mixed_bfloat16', prune] / rate['float32', prune]:.2f}x")
    return rate


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="rgc_shallow,rgc_intermediate")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    print(f"hardware: {hardware()}")
    for name in args.models.split(","):
        bench(zoo.check_name(name.strip()), args.batch_size, args.repeats)


if __name__ == "__main__":
    main()
