"""What the binaries share: gin parsing with the packaged gin folder on the search path, and
the run set-up (seed, determinism, precision, strategy) in the documented order."""

from __future__ import annotations

import importlib.resources
import os
import sys

from absl import flags

FLAGS = flags.FLAGS


def define_gin_flags():
    """``--gin_file`` (repeatable) and ``--gin_bindings``, shared by every binary (defined once)."""
    if "gin_file" not in FLAGS:
        flags.DEFINE_multi_string("gin_file", [], "gin files (paths, or names of files shipped in convrnn_tf/gin).")
        flags.DEFINE_multi_string("gin_bindings", [], "extra gin bindings, e.g. 'run.train_steps = 10'.")


def define_flags():
    """The training binaries' flags: gin, model_dir, strategy, precision, XLA, seed, determinism."""
    define_gin_flags()
    flags.DEFINE_string("model_dir", None, "where checkpoints, summaries and configs go (reused = resume).")
    flags.DEFINE_enum("strategy", "default", ["default", "one_device", "mirrored", "multi_worker_mirrored", "tpu"],
                      "tf.distribute strategy.")
    flags.DEFINE_string("tpu", None, "TPU name or address for --strategy=tpu.")
    flags.DEFINE_integer("num_gpus", None, "GPUs for --strategy=mirrored (default: all).")
    flags.DEFINE_enum("mixed_precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                      "Keras dtype policy.")
    flags.DEFINE_bool("jit_compile", False, "XLA-compile the per-replica step.")
    flags.DEFINE_integer("seed", 0, "random seed (weights, data order).")
    flags.DEFINE_bool("deterministic", True, "deterministic TF ops (same seed, same numbers on CPU).")


def gin_dir() -> str:
    return str(importlib.resources.files("convrnn_tf") / "gin")


def parse_gin(files, bindings):
    """Parse gin files (found by path or by name in the packaged gin folder) and bindings."""
    import gin

    import convrnn_tf.configurables  # noqa: F401  (registers everything gin may reference)

    gin.add_config_file_search_path(gin_dir())
    resolved = []
    for f in files:
        if os.path.exists(f):
            resolved.append(f)
        elif os.path.exists(os.path.join(gin_dir(), f)) or os.path.exists(os.path.join(gin_dir(), f + ".gin")):
            resolved.append(f if f.endswith(".gin") else f + ".gin")
        else:
            available = sorted(p for p in os.listdir(gin_dir()) if p.endswith(".gin"))
            sys.exit(f"error: gin file {f!r} not found (shipped gin files: {', '.join(available)})")
    try:
        gin.parse_config_files_and_bindings(resolved, bindings)
    except (ValueError, KeyError, ImportError, TypeError) as err:
        sys.exit(f"error: bad gin configuration: {err}")


def setup_run():
    """Seed, determinism, precision and the strategy, in that order; returns the strategy."""
    import keras
    import tensorflow as tf

    from convrnn_tf.training import distribute

    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    distribute.set_precision(FLAGS.mixed_precision)
    return distribute.get_strategy(FLAGS.strategy, tpu=FLAGS.tpu, num_gpus=FLAGS.num_gpus)
