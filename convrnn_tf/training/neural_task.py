"""Neural training: recurrent weights trained to predict neural responses per time bin, feedforward frozen.

The seed poster's central experiment ("feedforward weights optimized for ImageNet categorization;
recurrent weights optimized to match dynamics in V4 and IT") as a `convrnn_tf.training.tasks.Task`
run by the same trainer and ``bin/train`` (``run.task = @neural_task()``, see
``gin/neural_train_quickstart.gin``):

1. the model starts from ``init_checkpoint`` (a categorisation-trained checkpoint);
2. `convrnn_tf.training.freezing.partition` decides what trains (cells, feedback projections,
   decoder by default; the table is logged); the rest never changes, bit for bit;
3. a `NeuralReadout` per region (layers -> neurons, shared over time bins, initialised by ridge
   regression on the starting model's features) predicts the z-scored, repetition-averaged responses
   of the *training neurons* on the *training images*; loss over time bins: MSE or 1 - correlation;
4. at the end, `convrnn_tf.training.neural_report` scores the starting and the trained model per time
   bin (fresh PLS readouts, ceiled) on training and held-out images and neurons, and categorisation
   before vs after (the generalisation test), as tables and plots in ``<model_dir>/neural_report``.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from convrnn_tf.training import freezing
from convrnn_tf.training.neural_readout import NeuralReadout, pooled_size
from convrnn_tf.training.tasks import Task

LOSSES = ("mse", "correlation")


class NeuralTask(Task):
    """See the module docstring. Arguments are plain values (gin: ``neural_task.<arg>``).

    neural/stimuli/regions/bins/image_split/train_size/heldout_neuron_fraction/image_size: the data
    (`convrnn_tf.training.neural_data.prepare`); region_layers: ``{region: layer or [layers]}``,
    required for every region trained; init_checkpoint: the starting checkpoint (any that
    `convrnn_tf.zoo.restore_checkpoint` reads), required unless ``allow_untrained``; trainable,
    train_patterns, freeze_patterns: `freezing.partition`; step_ms/offset_ms: model step t stands for
    ``[offset + t step_ms, offset + (t + 1) step_ms)`` ms; pool: readout spatial pooling; ridge_alpha:
    readout initialisation (relative to the mean feature variance; None: random init); report: the
    keyword arguments of `neural_report.write_report` (or False for none).
    """

    metric_name = "r"

    def __init__(self, neural="simulated", stimuli=None, region_layers=None, init_checkpoint=None,
                 allow_untrained=False, trainable=freezing.DEFAULT_TRAINABLE, train_patterns=(), freeze_patterns=(),
                 loss="mse", regions=None, bins=None, step_ms=10.0, offset_ms=0.0, pool=1, image_split="stratified",
                 train_size=0.75, heldout_neuron_fraction=0.5, image_size=None, ridge_alpha=1.0, seed=0,
                 report=None):
        if loss not in LOSSES:
            raise ValueError(f"neural_task: unknown loss {loss!r}; choose one of {list(LOSSES)}")
        if not region_layers:
            raise ValueError("neural_task: region_layers is required, e.g. {'V4': 'conv2', 'IT': 'conv4'}")
        self.region_layers = {str(r): [v] if isinstance(v, str) else list(v) for r, v in dict(region_layers).items()}
        self.init_checkpoint, self.allow_untrained = init_checkpoint, bool(allow_untrained)
        self.trainable, self.train_patterns, self.freeze_patterns = tuple(trainable), train_patterns, freeze_patterns
        self.loss_name, self.step_ms, self.offset_ms, self.pool = loss, float(step_ms), float(offset_ms), int(pool)
        self.ridge_alpha, self.seed = ridge_alpha, int(seed)
        self.data_kwargs = dict(neural=neural, stimuli=stimuli, regions=regions or list(self.region_layers),
                                bins=bins, image_split=image_split, train_size=train_size,
                                heldout_neuron_fraction=heldout_neuron_fraction, image_size=image_size, seed=seed)
        self.report_kwargs = {} if report is None else report
        self._data = None
        self.readout = self.partition = None

    # ------------------------------------------------------------------ data
    @property
    def data(self):
        """The prepared recording (`neural_data.NeuralTrainingData`), loaded on first use."""
        if self._data is None:
            from convrnn_tf.training import neural_data

            self._data = neural_data.prepare(**self.data_kwargs)
        return self._data

    def dataset_fn(self, batch_size, training=True, input_context=None):
        from convrnn_tf.training import neural_data

        return neural_data.training_dataset(self.data, batch_size, training=training, seed=self.seed,
                                            input_context=input_context)

    # ------------------------------------------------------------------ setup
    def check_model(self, model):
        """Every region has layers that exist in ``model``; returns the model steps each bin reads."""
        from convrnn_tf.neural import TimeMapping

        data = self.data
        missing = [r for r in data.regions if r not in self.region_layers]
        if missing:
            raise ValueError(f"neural_task: region(s) {missing} have no mapped layer; set neural_task.region_layers"
                             f" (mapped: {sorted(self.region_layers)})")
        for r in data.regions:
            for layer in self.region_layers[r]:
                if layer not in model.spec.nodes:
                    raise ValueError(f"neural_task: region {r!r} maps to layer {layer!r}, not a node of the model "
                                     f"(nodes: {', '.join(model.spec.nodes)})")
        mapping = TimeMapping("one_to_one", step_ms=self.step_ms, offset_ms=self.offset_ms)
        return mapping.recipes(data.time_bin_start, data.time_bin_end, model.times)

    def restore_start(self, model, log=print):
        """Load ``init_checkpoint`` into ``model`` (clear errors when missing or not matching)."""
        from convrnn_tf import zoo

        if self.init_checkpoint is None:
            if not self.allow_untrained:
                raise ValueError("neural_task: init_checkpoint is required (neural training starts from a model "
                                 "trained for categorisation); set neural_task.allow_untrained = True to start "
                                 "from random weights")
            log("neural training starts from UNTRAINED weights (allow_untrained=True)")
            return "untrained"
        what = zoo.restore_checkpoint(model, os.fspath(self.init_checkpoint))
        log(f"neural training starts from {what}")
        return what

    def setup(self, model, log=print):
        recipes = self.check_model(model)
        self.steps = sorted({t for r in recipes for t in r})
        index = {t: i for i, t in enumerate(self.steps)}
        bin_steps = [[index[t] for t in r] for r in recipes]
        self.layers = sorted({layer for r in self.data.regions for layer in self.region_layers[r]})
        self.restore_start(model, log)
        self.partition = freezing.partition(model, self.trainable, self.train_patterns, self.freeze_patterns)
        log("neural training: which weights train (roles: " + ", ".join(self.trainable) + ")\n"
            + self.partition.describe())
        self._masks = [(e.variable, tf.constant(e.mask), tf.constant(e.variable.numpy()))
                       for e in self.partition.masked]
        shapes = model.spec.shapes
        dims = {r: sum(pooled_size(shapes[layer].output, self.pool) for layer in self.region_layers[r])
                for r in self.data.regions}
        neurons = {r: len(self.data.train_neurons[r]) for r in self.data.regions}
        self.readout = NeuralReadout({r: self.region_layers[r] for r in self.data.regions}, dims, neurons,
                                     bin_steps, pool=self.pool, name="neural_readout")
        self.readout.build()
        if self.ridge_alpha is not None:
            self.init_readout(model)

    def features(self, model, x, training=False):
        return model.unroll(x, outputs=self.layers, steps=self.steps, training=training)

    def readout_features(self, model, images, batch_size=32):
        """``{region: float32 [N, n_bins, D]}``: what each region's readout sees, for raw ``images``."""
        from convrnn_tf.data.pipelines import normalize

        out = {r: [] for r in self.data.regions}
        for i in range(0, len(images), batch_size):
            feats = self.features(model, normalize(tf.convert_to_tensor(images[i:i + batch_size])))
            for r in out:
                out[r].append(np.asarray(self.readout.region_features(feats, r)))
        return {r: np.concatenate(v) for r, v in out.items()}

    def init_readout(self, model):
        """Ridge regression from the starting model's features to the training targets (training images)."""
        data = self.data
        feats = self.readout_features(model, data.images[data.train_images])
        for r, f in feats.items():
            x = f.reshape(-1, f.shape[-1]).astype(np.float64)
            y = data.targets(r, data.train_images).reshape(len(x), -1).astype(np.float64)
            mx, my = x.mean(0), y.mean(0)
            xc = x - mx
            alpha = float(self.ridge_alpha) * max(float((xc ** 2).sum() / x.shape[1]), 1e-12)
            if x.shape[1] <= x.shape[0]:
                w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - my))
            else:  # dual form: fewer samples than features
                w = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(len(x)), y - my)
            self.readout.set_region_weights(r, w, my - mx @ w)

    # ------------------------------------------------------------------ training step
    def trainable_variables(self, model):
        return list(self.partition.trainable) + list(self.readout.trainable_weights)

    def checkpoint_objects(self):
        return {"neural_readout": self.readout}

    def predict(self, model, x, training=False):
        return self.readout(self.features(model, x, training=training))

    def loss(self, model, x, y, training):
        preds = self.predict(model, x, training=training)
        per_example, r_sum = [], []
        for region in self.data.regions:
            p, t = tf.cast(preds[region], tf.float32), tf.cast(y[region], tf.float32)
            pc = p - tf.reduce_mean(p, axis=(0, 1), keepdims=True)
            tc = t - tf.reduce_mean(t, axis=(0, 1), keepdims=True)
            r = tf.reduce_sum(pc * tc, axis=(0, 1)) / tf.sqrt(
                tf.reduce_sum(pc ** 2, axis=(0, 1)) * tf.reduce_sum(tc ** 2, axis=(0, 1)) + 1e-12)
            r_mean = tf.reduce_mean(r)
            if self.loss_name == "mse":
                per_example.append(tf.reduce_mean(tf.square(p - t), axis=(1, 2)))
            else:  # a batch statistic, spread evenly over the batch's examples
                per_example.append(tf.ones_like(p[:, 0, 0]) * (1.0 - r_mean))
            r_sum.append(r_mean)
        batch = tf.cast(tf.shape(x)[0], tf.float32)
        return tf.add_n(per_example) / len(per_example), tf.add_n(r_sum) / len(r_sum) * batch

    def regularization(self, model):
        return tf.constant(0.0)  # frozen weights' penalties are constants; trained ones are not decayed

    def transform_gradients(self, grads, variables):
        masks = {id(v): m for v, m, _ in self._masks}
        out = []
        for g, v in zip(grads, variables):
            g = tf.zeros_like(v) if g is None else g
            if id(v) in masks:
                g = g * tf.cast(masks[id(v)], g.dtype)
            out.append(g)
        return out

    def constrain(self):
        for var, mask, frozen in self._masks:  # frozen rows stay bit-identical whatever the optimiser does
            var.assign(tf.where(mask, var, frozen))

    # ------------------------------------------------------------------ report
    def evaluate(self, model, *, dataset_fn=None, strategy=None, steps=None, global_batch_size=32,
                 model_fn=None, model_dir=None, log=print):
        if self.report_kwargs is False or model_dir is None:
            return None
        from convrnn_tf.training import neural_report

        return neural_report.write_report(self, model, model_fn=model_fn, dataset_fn=dataset_fn,
                                          out_dir=os.path.join(model_dir, "neural_report"), eval_steps=steps,
                                          log=log, **self.report_kwargs)
