"""Temporal decoders: a window of per-step logits ``[B, T', K]`` -> one logit vector ``[B, K]``.

Original section 6. ``make("max_conf", trainable=True)`` builds one by name; the model picks
the window (default steps ``num_layers .. times-1``) and calls the decoder on it.
"""

from convrnn_tf.decoders.base import TemporalDecoder
from convrnn_tf.decoders.learned import Conv1DDecoder, MLPDecoder
from convrnn_tf.decoders.registry import ALIASES, get, make, names, register
from convrnn_tf.decoders.selection import MaxConfidence, Threshold, TimeMax
from convrnn_tf.decoders.weighting import (
    LastStep,
    LearnedWeightedAverage,
    WeightedAverage,
    WeightedTimeAverage,
)

__all__ = [
    "ALIASES",
    "Conv1DDecoder",
    "LastStep",
    "LearnedWeightedAverage",
    "MLPDecoder",
    "MaxConfidence",
    "TemporalDecoder",
    "Threshold",
    "TimeMax",
    "WeightedAverage",
    "WeightedTimeAverage",
    "get",
    "make",
    "names",
    "register",
]
