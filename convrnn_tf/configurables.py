"""The one module that touches gin: cells, models, data, optimizers and runs as configurables.

Importing it registers, under the gin module ``convrnn_tf.cells``,

* every cell class of the registry (`convrnn_tf.cells.names`) by its class name, so a binding can
  construct one: ``node.cell = @ConvGRU()`` with ``ConvGRU.out_depth = 8``;
* `make_cell`, a factory that builds a cell by its registry name: ``make_cell.name = "gru"``,
  ``make_cell.out_depth = 8`` and then ``@make_cell()`` (or ``gin.get_configurable("make_cell")()``).
  Scopes give different cells per node: ``conv3/make_cell.name = "lstm"``, ``@conv3/make_cell()``.

``gin.register`` leaves the classes and `make_cell` unchanged: plain Python calls ignore gin;
only gin references (``@...()``) and `gin.get_configurable` see the bindings. Only core ``gin`` is
used: ``gin.tf`` does not import with TF >= 2.16, and ``@gin.configurable`` on a Keras layer
breaks its construction (see the project's keras-tf notes, D1). Every cell writes an explicit
``get_config``, so gin-injected arguments are saved with the model.
"""

from __future__ import annotations

import gin

from convrnn_tf import cells
from convrnn_tf.training import experiment

GIN_MODULE = "convrnn_tf.cells"
TRAINING_MODULE = "convrnn_tf.training"


def make_cell(name, **kwargs):
    """The cell registered as ``name`` (e.g. "gru", "lstm", "rgc"), built with ``kwargs``.

    An unknown name raises the registry's ``ValueError``, which lists the valid names.
    """
    return cells.get(name)(**kwargs)


def _register_all():
    registered = {}
    for name in cells.names():
        cls = cells.get(name)
        if cls.__name__ not in registered:
            gin.register(cls, module=GIN_MODULE)
            registered[cls.__name__] = cls
    gin.register(make_cell, module=GIN_MODULE)
    return registered


#: ``{class name: cell class}`` of the cells registered with gin.
CONFIGURABLE_CELLS = _register_all()


# Experiments (``gin/*.gin``): the binaries call these wrapped versions, so bindings apply.
#   run.model_fn = @build_model          (a factory: called under the strategy's scope)
#   run.dataset_fn = @dataset()          (evaluated: returns dataset_fn(batch, training, ctx))
#   run.optimizer_fn = @optimizer()      (evaluated: returns optimizer_fn(total_steps))
build_model = gin.external_configurable(experiment.build_model, module=TRAINING_MODULE)
chain_spec = gin.external_configurable(experiment.chain_spec, module=TRAINING_MODULE)
feedforward_spec = gin.external_configurable(experiment.feedforward_spec, module=TRAINING_MODULE)
dataset = gin.external_configurable(experiment.dataset, module=TRAINING_MODULE)
optimizer = gin.external_configurable(experiment.optimizer, module=TRAINING_MODULE)
run = gin.external_configurable(experiment.run, module=TRAINING_MODULE)
format_summary = experiment.format_summary


# --- BEGIN dynamics analyses (issue 7: bin/decode_dynamics, gin/dynamics_quickstart.gin) ---
# decode_dynamics.responses = @simulate_embedded()   (or a path; --responses overrides)
from convrnn_tf.analysis import run as _dynamics_run  # noqa: E402

ANALYSIS_MODULE = "convrnn_tf.analysis"
decode_dynamics = gin.external_configurable(_dynamics_run.decode_dynamics, module=ANALYSIS_MODULE)
simulate_embedded = gin.external_configurable(_dynamics_run.simulate_embedded, module=ANALYSIS_MODULE)
model_responses = gin.external_configurable(_dynamics_run.model_responses, module=ANALYSIS_MODULE)
# --- END dynamics analyses ---


# --- BEGIN neural fitting binary (bin/fit_neural, gin/neural_fit_quickstart.gin) ---
# fit_neural_run.models = {"convrnn": @convrnn/build_model()}   (ConvRNN instances or factories, run on the fly)
from convrnn_tf.neural import pipeline as _neural_pipeline  # noqa: E402
from convrnn_tf.neural import simulate as _neural_simulate  # noqa: E402

NEURAL_MODULE = "convrnn_tf.neural"
simulate_recording = gin.external_configurable(_neural_simulate.simulate_recording, module=NEURAL_MODULE)
fit_neural_run = gin.external_configurable(_neural_pipeline.run_fit, name="fit_neural_run", module=NEURAL_MODULE)
# --- END neural fitting binary ---


# --- BEGIN neural training (issue 8: bin/train with run.task = @neural_task(), gin/neural_train_quickstart.gin) ---
from convrnn_tf.training import neural_task as _neural_task  # noqa: E402

neural_task = gin.external_configurable(_neural_task.NeuralTask, name="neural_task", module=TRAINING_MODULE)
# --- END neural training ---
