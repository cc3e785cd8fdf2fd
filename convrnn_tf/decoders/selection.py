"""Decoders that pick time steps by confidence (original section 6.3: max_conf, time_max, thresh).

All use ``p = softmax_k(beta * L)`` (temperature weight ``softmax_beta``) and return raw
logits at the chosen steps. Ties go to the first step. The choice is an argmax, so ``beta``
and the threshold get no gradient through it; the logits get it at the chosen steps.
"""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.decoders.base import check_flag, check_number, first_argmax, softmax, take_steps
from convrnn_tf.decoders.registry import register
from convrnn_tf.decoders.weighting import _TemperatureDecoder


class _ConfidenceDecoder(_TemperatureDecoder):
    def class_probs(self, logits):
        """``p = softmax_k(beta * L)``, [B, T', K]."""
        return softmax(logits, axis=2, beta=ops.cast(self.beta, "float32"))


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("max_conf")
class MaxConfidence(_ConfidenceDecoder):
    """``t* = argmax_t max_k p[:, t, k]``, ``out = L[b, t*_b, :]`` (the original's "tmaxconf").

    The tmaxconf models use ``trainable=True``: their learned ``softmax_beta`` comes from the
    checkpoint.
    """

    def chosen_step(self, logits):
        """``t*`` per example, int32 [B]."""
        return first_argmax(ops.max(self.class_probs(logits), axis=2))

    def decode(self, logits):
        return take_steps(logits, self.chosen_step(logits))


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("time_max")
class TimeMax(_ConfidenceDecoder):
    """Per class: ``t_k = argmax_t p[:, t, k]``, ``out_k = L[:, t_k, k]``."""

    def chosen_steps(self, logits):
        """``t_k`` per example and class, int32 [B, K]."""
        return first_argmax(self.class_probs(logits))

    def decode(self, logits):
        return take_steps(logits, self.chosen_steps(logits))


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("thresh")
class Threshold(_ConfidenceDecoder):
    """``m_t = max_k p[:, t, k]``; ``t*`` = first t with ``m_t >= threshold``, else argmax_t m_t.

    Output ``L[b, t*_b, :]`` (the original's "dthresh"). ``decoder_threshold`` is constant
    ``threshold`` (0.9) and ``softmax_beta`` constant ``beta`` (1), both frozen; with
    ``trainable=True`` both are learned from a random-uniform [0, 1) init, as in the original.
    """

    def __init__(self, threshold=0.9, beta=1.0, trainable=False, **kwargs):
        threshold = check_number(threshold, "threshold", "thresh decoder")
        check_flag(trainable, "trainable", "thresh decoder")
        super().__init__(beta=beta, trainable=trainable, **kwargs)
        self.threshold_value = threshold

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        self.threshold = self.add_scalar(
            "decoder_threshold", self.threshold_value, self.beta_trainable
        )
        self.beta = self.add_scalar("softmax_beta", self.beta_value, self.beta_trainable)
        self.built = True

    def chosen_step(self, logits):
        """``t*`` per example, int32 [B]."""
        confidence = ops.max(self.class_probs(logits), axis=2)  # [B, T']
        steps = ops.shape(confidence)[1]
        passed = confidence >= ops.cast(self.threshold, "float32")
        step_ids = ops.arange(steps, dtype="int32")
        first_passed = ops.min(ops.where(passed, step_ids, steps), axis=1)
        return ops.where(ops.any(passed, axis=1), first_passed, first_argmax(confidence))

    def decode(self, logits):
        return take_steps(logits, self.chosen_step(logits))

    def get_config(self):
        config = super().get_config()
        config.update(threshold=self.threshold_value)
        return config
