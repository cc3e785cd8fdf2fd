"""Neural data and neural fitting over time (Brain-Score / Nayebi et al. conventions).

- :mod:`.assembly`: recordings as ``xarray`` assemblies (presentation x neuroid x time_bin), validation.
- :mod:`.io`: ``load_assembly`` / ``save_assembly`` for NetCDF (brainio layout), ``.npz``, ``.h5``.
- :mod:`.cowley`: reader for the real V4 session of Cowley et al. 2023 (GPL-3.0 data, read in place).
- :mod:`.features`: time-step to time-bin mapping, streamed Gram matrices, optional PCA.
- :mod:`.pls`: batched kernel PLS (equal to scikit-learn's PLSRegression) and ridge.
- :mod:`.splits`: image, held-out-object, neuron and repetition splits.
- :mod:`.ceiling`: split-half noise ceilings, Spearman-Brown, ceiled-score conventions.
- :mod:`.fit`: ``fit_neural`` (per-bin fitting and scoring); :mod:`.results`: Dataset and CSV.
"""

from convrnn_tf.neural.assembly import (NeuralDataError, average_repetitions, make_assembly, match_stimuli,
                                        time_average, to_dense, validate_assembly)
from convrnn_tf.neural.ceiling import CONVENTIONS, ceil_score, spearman_brown, split_half_consistency
from convrnn_tf.neural.cowley import load_cowley2023, load_cowley2023_images
from convrnn_tf.neural.features import TimeMapping, compute_grams
from convrnn_tf.neural.fit import fit_neural
from convrnn_tf.neural.io import load_assembly, save_assembly
from convrnn_tf.neural.pls import center_gram, kernel_pls, kernel_ridge, pearson_columns
from convrnn_tf.neural.results import results_to_csv, summary_table
from convrnn_tf.neural.splits import held_out_object_splits, image_splits, neuron_folds, repetition_halves

__all__ = [
    "CONVENTIONS", "NeuralDataError", "TimeMapping", "average_repetitions", "ceil_score", "center_gram",
    "compute_grams", "fit_neural", "held_out_object_splits", "image_splits", "kernel_pls", "kernel_ridge",
    "load_assembly", "load_cowley2023", "load_cowley2023_images", "make_assembly", "match_stimuli",
    "neuron_folds", "pearson_columns", "repetition_halves", "results_to_csv", "save_assembly",
    "spearman_brown", "split_half_consistency", "summary_table", "time_average", "to_dense",
    "validate_assembly",
]
