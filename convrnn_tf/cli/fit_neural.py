"""Fit model features to neural recordings per time bin, for every layer and region; write a report.

    fit_neural --features=features.npz --neural=hvm_it.nc --region=IT --layers=conv9,conv10 --output=out/
    fit_neural --features=rgc_intermediate --checkpoint=ckpt --stimuli=stimuli/ --neural=it.nc --output=out/
    fit_neural --features=rgc.npz --features=ff.npz --neural=it.nc --output=out/     # model comparison
    fit_neural --gin_file=neural_fit_quickstart.gin --output=out/      # embedded stimuli, simulated data
    fit_neural --gin_file=my_models.gin --stimuli=stimuli/ --neural=it.nc --output=out/   # gin models

``--features`` (repeatable): an ``.npz`` from ``bin/extract_features`` (one array per layer
``[N, T, ...]`` plus ``stimulus_id``, optional ``time_step``), a NetCDF file of it (one group per layer),
a zoo model name (features extracted on the way from ``--stimuli``, optional ``--checkpoint``), or
``simulated``: the ground-truth latents (layers ``V4``, ``IT``, ``IT_feedforward``) of the simulated
recording (:mod:`convrnn_tf.neural.simulate`). ``--neural``: a ``.nc``/``.npz``/``.h5`` assembly, or
``simulated`` (written to ``<output>/neural_simulated.nc``). ``--stimuli=embedded`` uses the embedded
images with the simulated recording's configuration (the default for ``--neural=simulated``).

Models configured in gin are fitted too, their features extracted on ``--stimuli`` as they go::

    fit_neural_run.models = {"convrnn": @convrnn/build_model(), "feedforward": @feedforward/build_model()}
    fit_neural_run.checkpoints = {"convrnn": "runs/quickstart"}      # optional, per model

(an instance or a factory such as ``@build_model``; model step t stands for [10t, 10t + 10) ms, so
bins up to 260 ms need ``times >= 26``). Models are initialised with seed 0, so untrained ones give
the same features every run. See `convrnn_tf.neural.pipeline` and ``gin/neural_fit_quickstart.gin``.

Outputs in ``--output``: ``results.nc`` (summary with dim ``fit``; each full fit Dataset in a group
``fit_<i>``), ``results.csv``, ``predictivity_<region>.png``, ``model_comparison.png``, and the
one-screen table (also in ``table.txt``). Flags override the gin bindings of ``fit_neural_run``.
"""

from __future__ import annotations

import sys

from absl import app, flags

from convrnn_tf.cli import common

FLAGS = flags.FLAGS
common.define_gin_flags()
flags.DEFINE_multi_string("features", None, "Features file (.npz/.nc), zoo model name, or 'simulated'; repeatable.")
flags.DEFINE_string("neural", None, "Neural assembly (.nc/.npz/.h5) or 'simulated'.")
flags.DEFINE_string("region", None, "Comma-separated regions (default: all in the recording).")
flags.DEFINE_string("layers", None, "Comma-separated layers (default: all in each features source).")
flags.DEFINE_string("output", None, "Output folder.")
flags.DEFINE_string("stimuli", None, "Images for the models (see bin/extract_features --images) or 'embedded'.")
flags.DEFINE_string("checkpoint", None, "Checkpoint for the zoo model(s) in --features (gin models: "
                    "fit_neural_run.checkpoints).")
flags.DEFINE_integer("n_splits", None, "Image splits (default 10 or the gin binding).")
flags.DEFINE_integer("n_components", None, "PLS components (default 25).")
flags.DEFINE_enum("time_mapping", None, ["auto", "one_to_one", "same"],
                  "Model step -> time bin: one_to_one (convRNNs), same (feedforward); auto: by feature shape.")
flags.DEFINE_float("step_ms", None, "ms per model step (one_to_one).")
flags.DEFINE_float("offset_ms", None, "ms at which step 0 starts (one_to_one).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")

    common.parse_gin(FLAGS.gin_file, FLAGS.gin_bindings)
    from convrnn_tf import configurables

    kwargs = {}
    for flag, key in (("features", "features"), ("neural", "neural"), ("region", "regions"), ("layers", "layers"),
                      ("output", "output"), ("stimuli", "stimuli"), ("checkpoint", "checkpoint"),
                      ("n_splits", "n_splits"), ("n_components", "n_components"),
                      ("time_mapping", "time_mapping"), ("step_ms", "step_ms"), ("offset_ms", "offset_ms")):
        value = getattr(FLAGS, flag)
        if value is not None:
            kwargs[key] = value
    import keras

    keras.utils.set_random_seed(0)  # before gin builds the models: untrained ones are reproducible
    try:
        configurables.fit_neural_run(**kwargs)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
