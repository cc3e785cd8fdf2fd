#!/usr/bin/env python3
"""Forward+backward time of one step of each recurrent cell, float32 vs mixed_bfloat16, and our
ConvLSTM vs keras.layers.ConvLSTM2D doing the same one-step work.

One step = ``cell(x, states)`` and the gradient of ``sum(y**2) + sum(new_states**2)`` with respect
to every trainable variable, in one ``tf.function``. Defaults: a 28x28x128 input, out_depth 128,
batch 32, 3x3 kernels (the RGCs use their published configs at that size, without feedback; their
residual input is the input). All measurements run interleaved, round after round, in one
process, so machine noise hits every column alike; medians over the rounds are printed, and the
ratios are the numbers to read. The float32 and mixed_bfloat16 copies of a cell share weights.
The ConvLSTM2D comparison runs our ConvLSTM with forget_bias 0, no peepholes and no layer norm, and
ConvLSTM2D on a length-1 sequence with the same weights and initial state (checked equal first).

    python bench/cells.py [--batch_size 32] [--size 28] [--depth 128] [--repeats 3]
                          [--cells gru,lstm,...] [--policies float32,mixed_bfloat16]

Not a test. On CPUs without native bfloat16 (no AVX512_BF16/AMX) the mixed_bfloat16 convolutions
are emulated and far slower than float32; shrink the run with --size/--batch_size/--depth there.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from convrnn_tf import cells  # noqa: E402
from convrnn_tf.cells import ConvLSTM, median_config, shallow_config  # noqa: E402
from common import hardware  # noqa: E402  (bench/unroll.py)

POLICIES = ("float32", "mixed_bfloat16")
CELLS = ("timedecay", "simplernn", "gru", "lstm", "ugrnn", "intersectionrnn", "rgc_shallow", "rgc_median")


def cell_specs(size, depth):
    """``{label: (registry name, kwargs, takes res_input)}`` at the benchmark size."""
    conv = dict(shape=[size, size], filter_size=3, out_depth=depth)
    return {
        "timedecay": ("timedecay", dict(memory_decay=0.5, trainable=True), False),
        "simplernn": ("simplernn", conv, False),
        "gru": ("gru", conv, False),
        "lstm": ("lstm", conv, False),
        "ugrnn": ("ugrnn", conv, False),
        "intersectionrnn": ("intersectionrnn", conv, False),
        "rgc_shallow": ("rgc", shallow_config("conv3", shape=[size, size], out_depth=depth,
                                              cell_depth=depth), True),
        "rgc_median": ("rgc", median_config(shape=[size, size], out_depth=depth), True),
    }


def timed_step(fn, variables):
    """A ``tf.function`` of ``fn() -> tensors``: their sum of squares as the loss, and its
    gradient with respect to ``variables`` (all must get one); returns (loss, sum of the squared
    gradients), so fetching the second value waits for every gradient."""
    variables = list(variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outs = tf.nest.flatten(fn())
            loss = tf.add_n([tf.reduce_sum(tf.square(tf.cast(t, tf.float32))) for t in outs])
        grads = tape.gradient(loss, variables)
        missing = [v.path for v, g in zip(variables, grads) if g is None]
        if missing:
            raise ValueError(f"no gradient for {missing}")
        return loss, tf.add_n([tf.reduce_sum(tf.square(tf.cast(g, tf.float32))) for g in grads])

    return step


def build_cell_jobs(specs, labels, policies, shape, rng):
    """``{(label, policy): step}`` (see `timed_step`); the copies of one cell share weights."""
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    jobs = {}
    for label in labels:
        name, kwargs, residual = specs[label]
        reference = None
        for policy in policies:
            cell = cells.get(name)(**kwargs, dtype=policy)
            cell.build((None,) + shape[1:], None, (None,) + shape[1:] if residual else None)
            if reference is None:
                reference = cell.get_weights()
            cell.set_weights(reference)
            states = tuple(tf.constant(rng.normal(0, 0.5, (shape[0],) + s).astype("float32"))
                           for s in cell.state_shapes((None,) + shape[1:]))
            res = x if residual else None
            jobs[(label, policy)] = timed_step(lambda c=cell, s=states, r=res: c(x, s, res_input=r),
                                               cell.trainable_variables)
    return jobs


def _keras_gate_order(a):
    i, j, f, o = np.split(a, 4, axis=-1)  # ours: i, j, f, o; Keras: i, f, c(j), o
    return np.concatenate([i, f, j, o], axis=-1)


def build_lstm_jobs(policies, shape, depth, rng):
    """``{("ours"|"ConvLSTM2D", policy): step}`` doing the same single-step ConvLSTM work."""
    b, size, c_in = shape[0], shape[1], shape[3]
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    c0, h0 = (tf.constant(rng.normal(0, 0.5, (b, size, size, depth)).astype("float32")) for _ in "ch")
    weights, jobs, check = None, {}, {}
    for policy in policies:
        ours = ConvLSTM(shape=[size, size], filter_size=3, out_depth=depth, forget_bias=0.0, dtype=policy)
        ours.build((None,) + shape[1:])
        weights = weights or ours.get_weights()
        ours.set_weights(weights)
        theirs = keras.layers.ConvLSTM2D(depth, 3, padding="same", return_state=True,
                                         unit_forget_bias=False, dtype=policy)
        theirs.build((None, 1) + shape[1:])
        kernel, bias = weights
        theirs.set_weights([_keras_gate_order(kernel[:, :, :c_in]), _keras_gate_order(kernel[:, :, c_in:]),
                            _keras_gate_order(bias)])

        def run_ours(cell=ours):
            y, (c, h) = cell(x, (c0, h0))
            return y, h, c

        def run_theirs(layer=theirs):
            return layer(x[:, None], initial_state=[tf.cast(h0, layer.compute_dtype),
                                                    tf.cast(c0, layer.compute_dtype)])

        if policy == "float32":
            check = {k: [np.asarray(t) for t in f()] for k, f in (("ours", run_ours), ("keras", run_theirs))}
        jobs[("ours", policy)] = timed_step(run_ours, ours.trainable_variables)
        jobs[("ConvLSTM2D", policy)] = timed_step(run_theirs, theirs.trainable_variables)
    diff = None
    if check:
        diff = max(float(np.abs(a - b).max()) for a, b in zip(check["ours"], check["keras"]))
    return jobs, diff


def measure(jobs, repeats):
    """Warm every job up once (tracing), then time ``repeats`` interleaved rounds; median s per key."""
    for step in jobs.values():
        step()[1].numpy()
    times = {key: [] for key in jobs}
    for _ in range(repeats):
        for key, step in jobs.items():
            t0 = time.perf_counter()
            step()[1].numpy()  # the gradient norm needs every gradient: a full sync
            times[key].append(time.perf_counter() - t0)
    return {key: float(np.median(t)) for key, t in times.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--size", type=int, default=28, help="input height and width")
    p.add_argument("--depth", type=int, default=128, help="input channels and out_depth")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (after one warm-up round)")
    p.add_argument("--cells", default=",".join(CELLS), help=f"comma list out of {','.join(CELLS)}")
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--no_convlstm2d", action="store_true", help="skip the keras ConvLSTM2D comparison")
    args = p.parse_args()
    labels = [c for c in args.cells.split(",") if c]
    policies = [q for q in args.policies.split(",") if q]
    for value, valid, flag in ((labels, CELLS, "--cells"), (policies, POLICIES, "--policies")):
        bad = sorted(set(value) - set(valid))
        if bad or not value:
            p.error(f"{flag}: unknown or empty {bad or value}; valid are {', '.join(valid)}")
    tf.get_logger().setLevel("ERROR")  # one trace per step function; TF warns about "retracing"
    print(f"hardware: {hardware()}", flush=True)
    print(f"one step fwd+bwd: batch {args.batch_size}, input {args.size}x{args.size}x{args.depth}, "
          f"out_depth {args.depth}, 3x3 kernels, {args.repeats} timed rounds (median)", flush=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.size, args.size, args.depth)
    t_start = time.perf_counter()
    jobs = build_cell_jobs(cell_specs(args.size, args.depth), labels, policies, shape, rng)
    diff = None
    if not args.no_convlstm2d:
        lstm_jobs, diff = build_lstm_jobs(policies, shape, args.depth, rng)
        jobs.update({("lstm-vs-keras",) + k: v for k, v in lstm_jobs.items()})
    times = measure(jobs, args.repeats)

    header = "".join(f"{q + ' ms':>20}" for q in policies)
    ratio = len(policies) == 2
    print(f"\n{'cell':<18}{header}" + (f"{'bf16/f32':>10}" if ratio else ""))
    for label in labels:
        row = [times[(label, q)] for q in policies]
        line = f"{label:<18}" + "".join(f"{t * 1e3:20.1f}" for t in row)
        print(line + (f"{row[1] / row[0]:10.2f}" if ratio else ""))
    if not args.no_convlstm2d:
        print(f"\nConvLSTM, forget_bias 0, one step (float32 outputs equal to ConvLSTM2D within {diff:.1e})"
              if diff is not None else "\nConvLSTM, forget_bias 0, one step")
        print(f"{'policy':<18}{'ours ms':>12}{'ConvLSTM2D ms':>16}{'ConvLSTM2D/ours':>18}")
        for q in policies:
            ours, theirs = times[("lstm-vs-keras", "ours", q)], times[("lstm-vs-keras", "ConvLSTM2D", q)]
            print(f"{q:<18}{ours * 1e3:12.1f}{theirs * 1e3:16.1f}{theirs / ours:18.2f}")
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
