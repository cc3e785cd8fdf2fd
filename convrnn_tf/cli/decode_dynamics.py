"""Dynamics analyses of neural or model responses:
``bin/decode_dynamics --gin_file=dynamics_quickstart.gin --output=runs/dyn``
or ``bin/decode_dynamics --gin_file=my.gin --responses=it.npz [--behavior=trials.csv] --output=DIR``.

Decoding over time with latency, per-image OSTs, control-vs-challenge comparison and (with
``--behavior``) I1/I2 consistency; see `convrnn_tf.analysis.run`. Writes ``results.json``, ``curves.csv``,
``ost.csv`` and PNG plots into ``--output`` and prints a summary. Flags given on the command line
override the gin bindings of ``decode_dynamics``.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from convrnn_tf.cli import common

FLAGS = flags.FLAGS
# allow_override: several binaries' flag modules may be imported in one process (e.g. in tests);
# the shared names (output, stimuli, seed) have the same types everywhere.
common.define_gin_flags()
flags.DEFINE_string("responses", None, "responses file: .npz (responses [presentation, neuroid, time_bin] "
                    "+ label arrays) or NetCDF (brainio layout).", allow_override=True)
flags.DEFINE_string("behavior", None, "trial table (.csv/.npz: stimulus_id, truth, distractor, choice).", allow_override=True)
flags.DEFINE_string("output", None, "output folder for results and plots.", allow_override=True)
flags.DEFINE_string("model", None, "a zoo model name whose features are decoded (with --stimuli).", allow_override=True)
flags.DEFINE_string("stimuli", None, "'embedded' or a .npz with images + metadata (for --model).", allow_override=True)
flags.DEFINE_string("label", None, "metadata column to decode (default category_name).", allow_override=True)
flags.DEFINE_string("flag", None, "image-level column splitting control/challenge (default challenge).", allow_override=True)
flags.DEFINE_string("time_bins", None, "bin times to keep: 'kar2019', 'start:stop:step' or a comma list.", allow_override=True)
flags.DEFINE_integer("seed", None, "random seed (folds, bootstraps).", allow_override=True)


def _one_line(err):
    return " ".join(str(err).split())


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.output:
        sys.exit("error: --output is required")
    for what, path in (("responses", FLAGS.responses), ("behavior", FLAGS.behavior)):
        if path and not os.path.exists(path):
            sys.exit(f"error: {what} file {path!r} does not exist")
    if FLAGS.stimuli and FLAGS.stimuli != "embedded" and not os.path.exists(FLAGS.stimuli):
        sys.exit(f"error: stimuli file {FLAGS.stimuli!r} does not exist")

    common.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
    from convrnn_tf import configurables
    from convrnn_tf.analysis import run as dyn

    kwargs = {"output": FLAGS.output}
    for name in ("responses", "behavior", "model", "stimuli", "label", "flag", "time_bins", "seed"):
        value = getattr(FLAGS, name)
        if value is not None:
            kwargs[name] = value
    try:
        summary = configurables.decode_dynamics(**kwargs)
    except (ValueError, FileNotFoundError, KeyError) as err:
        sys.exit(f"error: {_one_line(err)}")
    print(dyn.format_summary(summary))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
