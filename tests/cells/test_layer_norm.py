"""The original's joint (H, W, C) layer norm with per-channel gamma/beta and eps 1e-12."""

import keras
import numpy as np
import pytest

from convrnn_tf.cells.layer_norm import EPSILON, JointLayerNorm, joint_layer_norm

try:
    from tests.cells import cell_reference as ref
except ImportError:  # pragma: no cover - rootdir not on sys.path
    import cell_reference as ref


def test_matches_numpy_reference_with_per_channel_params():
    rng = np.random.default_rng(51)
    x = (rng.normal(size=(3, 5, 4, 6)) * 3 + 1).astype("float32")
    layer = JointLayerNorm()
    layer.build(x.shape)
    assert [tuple(v.shape) for v in layer.weights] == [(6,), (6,)]
    assert [v.path.split("/")[-1] for v in layer.weights] == ["gamma", "beta"]
    gamma = rng.normal(size=6).astype("float32")
    beta = rng.normal(size=6).astype("float32")
    layer.set_weights([gamma, beta])
    want = ref.layer_norm(x, gamma, beta)
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-4, atol=1e-5)
    got = np.asarray(joint_layer_norm(x, gamma, beta))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # statistics are joint over H, W, C: per example mean 0 and variance 1 before gamma/beta
    y = np.asarray(joint_layer_norm(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2, 3)), 1, atol=1e-4)
    # ... which is not Keras' per-position LayerNormalization(axis=-1)
    keras_ln = keras.layers.LayerNormalization(axis=-1, epsilon=EPSILON)
    assert np.abs(np.asarray(keras_ln(x)) - y).max() > 0.1


def test_epsilon_is_1e_12():
    assert EPSILON == 1e-12
    rng = np.random.default_rng(52)
    x = (1.0 + 1e-5 * rng.normal(size=(2, 3, 3, 2))).astype("float32")  # variance ~1e-10
    y = np.asarray(joint_layer_norm(x))
    np.testing.assert_allclose(y.std(axis=(1, 2, 3)), 1.0, rtol=2e-2)  # eps 1e-5 would give ~0.003


def test_initial_values_dtype_and_rank2():
    layer = JointLayerNorm(gamma_init=1.5, beta_init=-0.25, dtype="mixed_bfloat16")
    layer.build((None, 7))
    np.testing.assert_array_equal(np.asarray(layer.gamma), 1.5)
    np.testing.assert_array_equal(np.asarray(layer.beta), -0.25)
    x = np.random.default_rng(53).normal(size=(4, 7)).astype("float32")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(y, np.float32), ref.layer_norm(x, 1.5, -0.25), atol=0.05)
    assert layer.losses == []


def test_config_round_trip():
    layer = JointLayerNorm(gamma_init=2.0, beta_init=0.5, epsilon=1e-6, name="forget")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, JointLayerNorm)
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs", [{"gamma_init": "1"}, {"beta_init": None}, {"epsilon": -1.0}])
def test_bad_config(kwargs):
    with pytest.raises(ValueError, match="JointLayerNorm"):
        JointLayerNorm(**kwargs)


def test_build_needs_known_channels():
    with pytest.raises(ValueError, match="JointLayerNorm.*channel"):
        JointLayerNorm().build((None, 4, 4, None))
