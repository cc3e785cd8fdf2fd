"""Decoders that read the last step or a weighted average over time (original section 6.3)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.decoders.base import TemporalDecoder, check_flag, check_number, softmax
from convrnn_tf.decoders.registry import register

_NORMALIZATIONS = (None, "linear", "softmax")


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("last")
class LastStep(TemporalDecoder):
    """``out = L[:, -1, :]``, the last step of the window (the original's "simple"/"last").

    ``normalization="linear"`` divides it by its sum over classes and ``"softmax"`` applies a
    softmax over classes (the original's ``simple_linear`` / ``simple_soft``).
    """

    def __init__(self, normalization=None, **kwargs):
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"last decoder: normalization must be one of {_NORMALIZATIONS}, "
                f"got {normalization!r}"
            )
        super().__init__(**kwargs)
        self.normalization = normalization

    def decode(self, logits):
        out = logits[:, -1, :]
        if self.normalization == "linear":
            return out / ops.sum(out, axis=1, keepdims=True)
        if self.normalization == "softmax":
            return softmax(out, axis=1)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(normalization=self.normalization)
        return config


class _TemperatureDecoder(TemporalDecoder):
    """A decoder with one softmax temperature ``softmax_beta`` (shape [1]).

    ``trainable=False``: constant ``beta`` (default 1), frozen. ``trainable=True``: learned,
    random-uniform [0, 1) init (``beta`` is then ignored), as in the original. ``trainable`` is
    the temperature's trainability (the original's ``decoder_trainable``), not the layer's.
    """

    def __init__(self, beta=1.0, trainable=False, **kwargs):
        where = f"{self.registered_name} decoder"
        beta = check_number(beta, "beta", where)
        trainable = check_flag(trainable, "trainable", where)
        super().__init__(**kwargs)
        self.beta_value = beta
        self.beta_trainable = trainable

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        self.beta = self.add_scalar("softmax_beta", self.beta_value, self.beta_trainable)
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta_value, trainable=self.beta_trainable)
        return config


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("w_avg")
class WeightedAverage(_TemperatureDecoder):
    """``a = softmax_t(beta * L)`` per class, ``out = sum_t a_t * L_t``."""

    def decode(self, logits):
        alpha = softmax(logits, axis=1, beta=ops.cast(self.beta, "float32"))
        return ops.sum(alpha * logits, axis=1)


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("w_avg_t")
class LearnedWeightedAverage(TemporalDecoder):
    """Learned weights: ``a = sigmoid(W) / sum_t sigmoid(W)``, ``out = sum_t a_t * L_t``.

    ``W`` is ``decoder_alpha`` of shape [T', K], random-uniform [0, 1) init, so T' and K must
    be static. ``trainable`` is W's trainability (default True; the original froze it unless
    ``decoder_trainable``).
    """

    needs_static_time = True
    needs_static_classes = True

    def __init__(self, trainable=True, **kwargs):
        trainable = check_flag(trainable, "trainable", "w_avg_t decoder")
        super().__init__(**kwargs)
        self.alpha_trainable = trainable

    def build(self, input_shape):
        steps, classes = self.check_input_shape(input_shape)
        self.decoder_alpha = self.add_weight(
            name="decoder_alpha",
            shape=(steps, classes),
            initializer=keras.initializers.RandomUniform(0.0, 1.0),
            trainable=self.alpha_trainable,
            dtype="float32",
        )
        self.built = True

    def weights_over_time(self):
        """The normalised weights ``a`` of shape [T', K] (they sum to 1 over time)."""
        positive = ops.sigmoid(ops.cast(self.decoder_alpha, "float32"))
        return positive / ops.sum(positive, axis=0, keepdims=True)

    def decode(self, logits):
        steps = self.decoder_alpha.shape[0]
        if logits.shape[1] is not None and logits.shape[1] != steps:
            raise ValueError(
                f"w_avg_t decoder {self.name!r}: built for {steps} time steps, got logits of "
                f"shape {tuple(logits.shape)}"
            )
        return ops.sum(self.weights_over_time() * logits, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(trainable=self.alpha_trainable)
        return config


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("w_time_avg")
class WeightedTimeAverage(TemporalDecoder):
    """``a_t = softmax_t(beta2 * max_k softmax_k(beta1 * L_t))``, ``out = sum_t a_t * L_t``.

    ``beta1`` / ``beta2`` are the original's ``probs`` / ``alpha`` temperatures, weights
    ``probs_softmax_beta`` / ``alpha_softmax_beta`` following the ``trainable`` flag as in
    `WeightedAverage`.
    """

    def __init__(self, beta1=1.0, beta2=1.0, trainable=False, **kwargs):
        beta1 = check_number(beta1, "beta1", "w_time_avg decoder")
        beta2 = check_number(beta2, "beta2", "w_time_avg decoder")
        trainable = check_flag(trainable, "trainable", "w_time_avg decoder")
        super().__init__(**kwargs)
        self.beta1_value, self.beta2_value, self.beta_trainable = beta1, beta2, trainable

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        self.beta1 = self.add_scalar("probs_softmax_beta", self.beta1_value, self.beta_trainable)
        self.beta2 = self.add_scalar("alpha_softmax_beta", self.beta2_value, self.beta_trainable)
        self.built = True

    def weights_over_time(self, logits):
        """The weights ``a`` of shape [B, T', 1]."""
        probs = softmax(logits, axis=2, beta=ops.cast(self.beta1, "float32"))
        confidence = ops.max(probs, axis=2, keepdims=True)
        return softmax(confidence, axis=1, beta=ops.cast(self.beta2, "float32"))

    def decode(self, logits):
        return ops.sum(self.weights_over_time(logits) * logits, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(beta1=self.beta1_value, beta2=self.beta2_value, trainable=self.beta_trainable)
        return config
