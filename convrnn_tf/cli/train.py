"""Train a convRNN from gin files: ``bin/train --gin_file=quickstart.gin --model_dir=runs/q``.

A reused ``--model_dir`` resumes from its last checkpoint. The parsed and the operative gin
configs and the command line are written next to the checkpoints.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from convrnn_tf.cli import common

FLAGS = flags.FLAGS
common.define_flags()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required")
    if not FLAGS.gin_file:
        raise app.UsageError("give at least one --gin_file (e.g. quickstart.gin)")
    import gin

    from convrnn_tf import configurables

    common.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
    strategy = common.setup_run()
    os.makedirs(FLAGS.model_dir, exist_ok=True)
    with open(os.path.join(FLAGS.model_dir, "command.txt"), "w") as f:
        f.write(" ".join(sys.argv) + "\n")
    with open(os.path.join(FLAGS.model_dir, "config.parsed.gin"), "w") as f:
        f.write(gin.config_str())

    def save_operative_config():
        with open(os.path.join(FLAGS.model_dir, "operative_config.gin"), "w") as f:
            f.write(gin.operative_config_str())

    from convrnn_tf.training import TrainingError

    try:
        summary = configurables.run(model_dir=FLAGS.model_dir, strategy=strategy, seed=FLAGS.seed,
                                    jit_compile=FLAGS.jit_compile, after_first_step=save_operative_config)
    except TrainingError as err:
        sys.exit(f"error: {err}")
    print(configurables.format_summary(summary))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
