"""Evaluate a trained convRNN: top-1/top-5 of the decoded output and per time step.

    bin/evaluate --gin_file=quickstart.gin --model_dir=runs/q
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

from convrnn_tf.cli import common

FLAGS = flags.FLAGS
common.define_flags()
flags.DEFINE_integer("eval_steps", None, "Batches to evaluate (default: the whole split).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.model_dir or not FLAGS.gin_file:
        raise app.UsageError("--model_dir and --gin_file are required")
    from convrnn_tf import configurables

    common.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
    strategy = common.setup_run()
    try:
        result = configurables.run(model_dir=FLAGS.model_dir, mode="evaluate", strategy=strategy,
                                   **({} if FLAGS.eval_steps is None else {"eval_steps": FLAGS.eval_steps}))
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    with open(os.path.join(FLAGS.model_dir, "eval.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  ({result['examples']} images, "
          f"checkpoint {result['checkpoint']})")
    print("top-1 per time step: " + " ".join(f"{a:.3f}" for a in result["top1_per_step"]))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
