"""`NeuralReadout`: linear maps from model layers to recorded neurons, one per region, shared over time.

For region r with layers L_r, time bin k covering model steps S_k and optional spatial average
pooling P::

    y_r[b, k, :] = W_r^T mean_{t in S_k} concat_{l in L_r} flatten(P(f_l[b, t])) + c_r

The weights do not depend on the bin, so the network's dynamics, not the readout, must produce the
responses' time course (what neural training asks of the recurrent weights).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from convrnn_tf.tracking import ListCheckpointDependencies


def pooled_size(shape, pool):
    """Feature count of a node output ``shape`` (H, W, C) or (D,) after ``pool`` x ``pool`` averaging."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3 and pool > 1:
        return (shape[0] // pool) * (shape[1] // pool) * shape[2]
    return int(np.prod(shape))


@keras.saving.register_keras_serializable(package="convrnn_tf")
class NeuralReadout(ListCheckpointDependencies, keras.layers.Layer):
    """``call({layer: [B, S, ...]}) -> {region: [B, n_bins, n_neurons]}`` (see the module docstring).

    region_layers: ``{region: [layer, ...]}``; feature_dims: ``{region: D}`` (the concatenated
    pooled size, `pooled_size`); n_neurons: ``{region: n}``; bin_steps: per bin, the indices into the
    S steps given to ``call`` that it averages; pool: spatial average-pooling factor (1: none).
    """

    def __init__(self, region_layers, feature_dims, n_neurons, bin_steps, pool=1, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.region_layers = {str(r): [str(x) for x in ([v] if isinstance(v, str) else v)]
                              for r, v in region_layers.items()}
        self.feature_dims = {str(r): int(v) for r, v in feature_dims.items()}
        self.n_neurons = {str(r): int(v) for r, v in n_neurons.items()}
        self.bin_steps = [[int(t) for t in b] for b in bin_steps]
        self.pool = int(pool)
        regions = set(self.region_layers)
        for what, d in (("feature_dims", self.feature_dims), ("n_neurons", self.n_neurons)):
            if set(d) != regions:
                raise ValueError(f"NeuralReadout: {what} has regions {sorted(d)}, region_layers has {sorted(regions)}")
        if not self.bin_steps or any(not b for b in self.bin_steps):
            raise ValueError("NeuralReadout: every time bin needs at least one model step (bin_steps)")
        if self.pool < 1:
            raise ValueError(f"NeuralReadout: pool must be >= 1, got {pool}")
        n_steps = max(t for b in self.bin_steps for t in b) + 1
        avg = np.zeros((len(self.bin_steps), n_steps), np.float32)
        for k, b in enumerate(self.bin_steps):
            avg[k, b] = 1.0 / len(b)
        self._average = avg
        self.kernels, self.biases = {}, {}

    def build(self, input_shape=None):
        for r in self.region_layers:
            self.kernels[r] = self.add_weight(name=f"{r}_kernel", shape=(self.feature_dims[r], self.n_neurons[r]),
                                              initializer="glorot_uniform")
            self.biases[r] = self.add_weight(name=f"{r}_bias", shape=(self.n_neurons[r],), initializer="zeros")
        self.built = True

    def region_features(self, features, region):
        """``[B, n_bins, D]``: the bin-averaged, pooled, flattened features that ``region`` reads."""
        parts = []
        for layer in self.region_layers[region]:
            if layer not in features:
                raise ValueError(f"NeuralReadout: region {region!r} reads layer {layer!r}, which was not given "
                                 f"(got {sorted(features)})")
            x = ops.cast(features[layer], "float32")
            b, s = ops.shape(x)[0], x.shape[1]
            if len(x.shape) == 5 and self.pool > 1:
                h, w, c = x.shape[2:]
                x = ops.reshape(x, (-1, h, w, c))
                x = ops.average_pool(x, self.pool, strides=self.pool, padding="valid")
            x = ops.reshape(x, (b, s, -1))
            parts.append(x)
        x = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        if x.shape[-1] != self.feature_dims[region]:
            raise ValueError(f"NeuralReadout: region {region!r} gets {x.shape[-1]} features, built for "
                             f"{self.feature_dims[region]}")
        avg = ops.convert_to_tensor(self._average[:, : x.shape[1]])
        return ops.einsum("ks,bsd->bkd", avg, x)

    def call(self, features):
        return {r: ops.einsum("bkd,dn->bkn", self.region_features(features, r), self.kernels[r]) + self.biases[r]
                for r in self.region_layers}

    def set_region_weights(self, region, kernel, bias):
        self.kernels[region].assign(np.asarray(kernel, np.float32))
        self.biases[region].assign(np.asarray(bias, np.float32))

    def get_config(self):
        return {**super().get_config(), "region_layers": self.region_layers, "feature_dims": self.feature_dims,
                "n_neurons": self.n_neurons, "bin_steps": self.bin_steps, "pool": self.pool}
