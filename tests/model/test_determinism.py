"""Same seed, same numbers (CPU); a different seed gives different weights."""

import keras
import numpy as np

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN


def _run(seed):
    keras.utils.set_random_seed(seed)
    model = ConvRNN(builders.chain(4, input_shape=(8, 8, 3), base_depth=2, classes=3,
                                   feedback=[("conv3", "conv1")]), times=5, decoder="w_avg_t")
    x = np.random.default_rng(seed).uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    y = np.asarray(model(x))
    weights = [np.asarray(w) for w in model.get_weights()]
    assert len(weights) == 12  # 3 convs x (kernel, bias, decay) + fc (kernel, bias) + decoder_alpha
    return weights, y


def test_same_seed_same_numbers():
    (w1, y1), (w2, y2) = _run(3), _run(3)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(y1, y2)
    w3, _ = _run(4)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))
