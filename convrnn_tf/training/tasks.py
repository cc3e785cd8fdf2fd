"""What the trainer optimises: a *task* supplies the loss, the variables to train and the final report.

`convrnn_tf.training.trainer.train` owns the loop, distribution and checkpoints; a task owns
everything objective-specific. `ClassificationTask` (the default: cross-entropy of the decoded
logits, or averaged over chosen time steps) and `convrnn_tf.training.neural_task.NeuralTask`
(recurrent weights trained on neural responses, feedforward weights frozen) implement it.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class Task:
    """The interface `trainer.train` calls, in this order.

    ``setup(model, log)`` after the model is built, under the strategy's scope (restore a starting
    checkpoint, create extra layers); ``trainable_variables(model)``; ``checkpoint_objects()`` (extra
    trackables saved with model and optimizer); per step ``loss(model, x, y, training) ->
    (per_example_loss [B], metric_sum)``, ``regularization(model)``, ``transform_gradients(grads,
    variables)`` and, after the update in cross-replica context, ``constrain()``; at the end
    ``evaluate(model, ...)`` whose dict becomes the summary's ``eval``.
    """

    metric_name = "accuracy"  #: what ``metric_sum / batch`` is, in logs and the summary
    dataset_fn = None  #: a task with its own training data sets this (``dataset_fn(batch, training, ctx)``)

    def setup(self, model, log=print):
        pass

    def trainable_variables(self, model):
        return model.trainable_variables

    def checkpoint_objects(self) -> dict:
        return {}

    def loss(self, model, x, y, training):
        raise NotImplementedError

    def regularization(self, model):
        return tf.add_n(model.losses) if model.losses else tf.constant(0.0)

    def transform_gradients(self, grads, variables):
        return grads

    def constrain(self):
        pass

    def evaluate(self, model, *, dataset_fn=None, strategy=None, steps=None, global_batch_size=32,
                 model_fn=None, model_dir=None, log=print):
        return None


class ClassificationTask(Task):
    """Cross-entropy of the decoded logits, or (``loss_steps``) its mean over the output node's logits
    at those time steps; the metric is top-1 accuracy; evaluation is `trainer.evaluate`."""

    def __init__(self, loss_steps=None):
        self.loss_steps = None if loss_steps is None else [int(t) for t in loss_steps]

    def loss(self, model, x, y, training):
        if self.loss_steps is None:
            logits = model(x, training=training)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        else:
            seq = tf.cast(model.unroll(x, steps=self.loss_steps, training=training)[model.spec.output], tf.float32)
            y_t = tf.repeat(y[:, None], len(self.loss_steps), axis=1)
            per_example = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_t, seq, from_logits=True),
                                         axis=1)
            logits = seq[:, -1]
        correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(y, tf.int32))
        return per_example, tf.reduce_sum(tf.cast(correct, tf.float32))

    def evaluate(self, model, *, dataset_fn=None, strategy=None, steps=None, global_batch_size=32,
                 model_fn=None, model_dir=None, log=print):
        if dataset_fn is None:
            return None
        from convrnn_tf.training import trainer

        return trainer.evaluate(model, dataset_fn, strategy=strategy, steps=steps,
                                global_batch_size=global_batch_size)
