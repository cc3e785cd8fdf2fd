"""Dynamics analyses on time-resolved responses ``[presentation, neuroid, time_bin]`` (models and recordings).

* decoding over time (:func:`decode_over_time`): cross-validated linear decoders per bin, accuracy, d',
  per-image class probabilities, chance and a shuffled-label control;
* spike counts (:func:`bin_spikes`, :func:`bin_spike_times`, :func:`pseudo_population`);
* decoding latency (:func:`decoding_latency`, :func:`latency_difference`) with bootstrap CIs;
* object solution times (Kar et al. 2019: :func:`ost_from_decoding`, :func:`ost_correlation`,
  :func:`compare_groups` for challenge vs control);
* behaviour (Rajalingham et al. 2018: :mod:`.behavior` I1, I2, I1n, I2n, consistency);
* PNG plots (:mod:`.plots`, needs matplotlib) and simulated data (:mod:`.simulate`).

Conventions follow ``shared/docs/neural-fitting.md`` sections 1.7, 3.2 and 5.
"""

from ._arrays import KAR2019_SPLITS, KAR2019_TIME_BINS, as_responses, select_time_bins
from ._stats import DPRIME_CLIP, dprime, first_crossing, pearson, spearman
from .behavior import (
    METRICS,
    Behavior,
    Consistency,
    consistency,
    from_probabilities,
    from_trials,
    split_half_masks,
    split_half_reliability,
)
from .decoding import DecodingResult, assign_folds, decode_over_time, population_dprime
from .latency import Latency, LatencyDifference, decoding_latency, latency_difference
from .ost import (
    DEFAULT_CRITERION,
    GroupComparison,
    OSTCorrelation,
    compare_groups,
    image_dprime_over_time,
    object_solution_times,
    ost_correlation,
    ost_from_decoding,
)
from .simulate import SimulatedPopulation, simulate_choices, simulate_population
from .spikes import bin_spike_times, bin_spikes, pseudo_population

__all__ = [name for name in dir() if not name.startswith("_")]
