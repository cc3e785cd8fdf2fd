"""Temporal decoders (original section 6) against independent NumPy versions of their equations."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from convrnn_tf import decoders

RNG = np.random.default_rng(1234)
K = 7


@pytest.fixture(autouse=True)
def _fresh_rng():
    """The same logits for a test whatever runs before it (e.g. under pytest-xdist)."""
    global RNG
    RNG = np.random.default_rng(1234)


def logits(batch=3, steps=6, classes=K, scale=2.0):
    return (scale * RNG.standard_normal((batch, steps, classes))).astype("float32")


# -- NumPy references ----------------------------------------------------------------------------
def np_softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_last(L):
    return L[:, -1, :]


def np_w_avg(L, beta):
    return (np_softmax(beta * L, axis=1) * L).sum(axis=1)


def np_w_avg_t(L, w):
    s = 1.0 / (1.0 + np.exp(-w))
    return ((s / s.sum(axis=0))[None] * L).sum(axis=1)


def np_w_time_avg(L, beta1, beta2):
    m = np_softmax(beta1 * L, axis=2).max(axis=2)
    a = np_softmax(beta2 * m, axis=1)
    return (a[:, :, None] * L).sum(axis=1)


def np_max_conf(L, beta):
    t = np.argmax(np_softmax(beta * L, axis=2).max(axis=2), axis=1)
    return L[np.arange(len(L)), t]


def np_time_max(L, beta):
    t = np.argmax(np_softmax(beta * L, axis=2), axis=1)  # [B, K]
    return np.stack([[L[b, t[b, k], k] for k in range(L.shape[2])] for b in range(len(L))])


def np_thresh_steps(L, beta, threshold):
    m = np_softmax(beta * L, axis=2).max(axis=2)
    steps = []
    for row in m:
        passed = [t for t, v in enumerate(row) if v >= threshold]
        steps.append(passed[0] if passed else int(np.argmax(row)))
    return np.array(steps)


def np_thresh(L, beta, threshold):
    return L[np.arange(len(L)), np_thresh_steps(L, beta, threshold)]


def np_elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def np_mlp(L, weights):
    x = L.reshape(len(L), -1)
    *hidden, (w_out, b_out) = list(zip(weights[::2], weights[1::2]))
    for w, b in hidden:
        x = np_elu(x @ w + b)
    return x @ w_out + b_out


def np_conv1d(L, weights, pool):
    feats = []
    *convs, (w_out, b_out) = list(zip(weights[::2], weights[1::2]))
    for kernel, bias in convs:
        w = kernel.shape[0]
        out = np.stack(
            [np.einsum("bwc,wcf->bf", L[:, t : t + w], kernel) + bias for t in range(L.shape[1] - w + 1)],
            axis=1,
        )
        feats.append(out.max(axis=1) if pool == "max" else out.mean(axis=1))
    return np.concatenate(feats, axis=1) @ w_out + b_out


def value(weight):
    return float(np.asarray(weight.numpy()).reshape(-1)[0])


def run(layer, L):
    return layer(L).numpy()


# -- equations on random logits ------------------------------------------------------------------
@pytest.mark.parametrize("batch,steps", [(3, 6), (1, 6), (2, 1), (1, 1)])
def test_simple_decoders_match_numpy(batch, steps):
    L = logits(batch, steps)

    out = run(decoders.make("last"), L)
    np.testing.assert_allclose(out, np_last(L), rtol=0, atol=0)
    assert out.shape == (batch, K)

    d = decoders.make("w_avg")
    d.build(L.shape)
    d.beta.assign([0.37])
    np.testing.assert_allclose(run(d, L), np_w_avg(L, 0.37), rtol=1e-5, atol=1e-5)

    d = decoders.make("w_avg_t")
    d.build(L.shape)
    w = RNG.standard_normal((steps, K)).astype("float32")
    d.set_weights([w])
    np.testing.assert_allclose(run(d, L), np_w_avg_t(L, w), rtol=1e-5, atol=1e-5)

    d = decoders.make("w_time_avg", trainable=True)
    d.build(L.shape)
    d.beta1.assign([1.7])
    d.beta2.assign([3.1])
    np.testing.assert_allclose(run(d, L), np_w_time_avg(L, 1.7, 3.1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch,steps", [(4, 6), (1, 6), (2, 1), (1, 1)])
@pytest.mark.parametrize("beta", [1.0, 0.3, 2.5])
def test_selection_decoders_match_numpy(batch, steps, beta):
    L = logits(batch, steps)
    for name, ref in [("max_conf", np_max_conf), ("time_max", np_time_max)]:
        d = decoders.make(name, trainable=True)
        d.build(L.shape)
        d.beta.assign([beta])
        out = run(d, L)
        assert out.shape == (batch, K)
        np.testing.assert_array_equal(out, ref(L, beta))

    d = decoders.make("thresh")
    d.build(L.shape)
    d.beta.assign([beta])
    for threshold in (0.0, 0.4, 0.9, 1.01):
        d.threshold.assign([threshold])
        np.testing.assert_array_equal(run(d, L), np_thresh(L, beta, threshold))


def test_thresh_middle_step_passes_first_and_none_pass():
    # Two classes with logits [a, 0]: max_k p = sigmoid(|a|).
    a = np.array(
        [
            [0.0, 3.0, 5.0, 1.0],  # p ~ .5, .953, .993, .73: step 1 passes first (not the max)
            [0.0, 1.0, 2.0, 0.5],  # never reaches .9: argmax, step 2
            [4.0, 0.0, 6.0, 0.0],  # step 0 passes at once
        ],
        dtype="float32",
    )
    L = np.stack([a, np.zeros_like(a)], axis=2) + RNG.standard_normal((3, 4, 1)).astype("float32")
    d = decoders.make("dthresh")
    assert isinstance(d, decoders.Threshold)
    out = run(d, L)
    np.testing.assert_array_equal(np_thresh_steps(L, 1.0, 0.9), [1, 2, 0])
    np.testing.assert_array_equal(out, L[np.arange(3), [1, 2, 0]])
    np.testing.assert_allclose(value(d.threshold), 0.9, rtol=1e-7)
    assert value(d.beta) == 1.0 and not d.trainable_weights


def test_max_conf_by_hand():
    flat = np.zeros((3, 3), "float32")
    L = np.stack([flat.copy(), flat.copy()])  # [2, 3 steps, 3 classes]
    L[0, 1] = [0.0, 10.0, 0.0]  # example 0: confident at step 1
    L[0, 2] = [0.0, 2.0, 0.0]
    L[1, 0] = [1.0, 0.0, 0.0]
    L[1, 2] = [-5.0, 0.0, 3.0]  # example 1: most confident at step 2
    np.testing.assert_array_equal(run(decoders.make("tmaxconf"), L), L[[0, 1], [1, 2]])
    # Ties go to the first step: [0, 2] and [2, 0] have exactly the same max_k p.
    tied = np.array([[[0.0, 2.0], [2.0, 0.0]], [[-1.0, -1.0], [-1.0, -1.0]]], "float32")
    np.testing.assert_array_equal(run(decoders.make("max_conf"), tied), tied[:, 0])
    np.testing.assert_array_equal(run(decoders.make("thresh"), tied), tied[:, 0])


def test_first_argmax_breaks_ties_to_the_first_index():
    x = tf.constant([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(decoders.base.first_argmax(x).numpy(), [1, 0])
    x3 = tf.constant([[[1.0, 5.0], [4.0, 5.0], [4.0, 0.0]]])  # [1, 3 steps, 2]
    np.testing.assert_array_equal(decoders.base.first_argmax(x3).numpy(), [[1, 0]])


def test_time_max_by_hand():
    # One example, 3 steps, 3 classes; class 0 peaks (in probability) at step 2, class 1 at 0,
    # class 2 at 1.
    L = np.array([[[0.0, 5.0, 0.0], [0.0, 0.0, 4.0], [6.0, 0.0, 0.0]]], "float32")
    np.testing.assert_array_equal(run(decoders.make("time_max"), L), [[6.0, 5.0, 4.0]])
    # Batch of 2; in example 1 steps 0 and 1 tie for classes 0 and 1 (step 0 wins), class 2
    # peaks at step 2.
    L2 = np.concatenate([L, [[[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]]]).astype("float32")
    np.testing.assert_array_equal(run(decoders.make("time_max"), L2), [[6.0, 5.0, 4.0], [0.0, 1.0, 3.0]])


def test_mlp_and_conv1d_match_numpy():
    for batch in (3, 1):
        L = logits(batch, 6)
        d = decoders.make("mlp", hidden=(9, 5))
        out = run(d, L)
        assert out.shape == (batch, K)
        np.testing.assert_allclose(out, np_mlp(L, d.get_weights()), rtol=1e-4, atol=1e-4)
        for pool in ("max", "avg"):
            d = decoders.make("conv1d", pool=pool)
            out = run(d, L)
            assert out.shape == (batch, K)
            assert sum(w.shape[-1] for w in d.get_weights()[0:10:2]) == 20
            np.testing.assert_allclose(
                out, np_conv1d(L, d.get_weights(), pool), rtol=1e-4, atol=1e-4
            )
    L = logits(2, 1)
    d = decoders.make("conv1d", windows=(1,), filters=(3,))
    np.testing.assert_allclose(run(d, L), np_conv1d(L, d.get_weights(), "max"), rtol=1e-4, atol=1e-4)


def test_dynamic_batch_and_time():
    L = logits(3, 5)
    for name in ("last", "w_avg", "w_time_avg", "max_conf", "time_max", "thresh"):
        d = decoders.make(name)
        fn = tf.function(d, input_signature=[tf.TensorSpec([None, None, K], tf.float32)])
        np.testing.assert_allclose(fn(L).numpy(), run(d, L), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(fn(L[:1, :2]).numpy(), run(d, L[:1, :2]), rtol=1e-6, atol=1e-6)


def test_softmax_is_stable():
    L = logits(2, 4) * 1e3
    for name in ("w_avg", "w_time_avg", "max_conf", "time_max", "thresh"):
        assert np.all(np.isfinite(run(decoders.make(name), L))), name


# -- weights and config --------------------------------------------------------------------------
def test_weights_and_trainability():
    shape = (2, 6, K)
    cases = {
        "w_avg": ({}, ["softmax_beta"], []),
        "max_conf": ({"trainable": True}, [], ["softmax_beta"]),
        "thresh": ({}, ["decoder_threshold", "softmax_beta"], []),
        "w_time_avg": ({}, ["probs_softmax_beta", "alpha_softmax_beta"], []),
        "w_avg_t": ({}, [], ["decoder_alpha"]),
    }
    for name, (kwargs, frozen, learned) in cases.items():
        d = decoders.make(name, **kwargs)
        d.build(shape)
        assert [w.name for w in d.non_trainable_weights] == frozen, name
        assert [w.name for w in d.trainable_weights] == learned, name
    d = decoders.make("thresh", trainable=True)
    d.build(shape)
    assert 0.0 <= value(d.threshold) < 1.0 and 0.0 <= value(d.beta) < 1.0
    assert len(d.trainable_weights) == 2
    d = decoders.make("w_avg_t")
    d.build(shape)
    assert d.decoder_alpha.shape == (6, K)
    assert np.all((d.decoder_alpha.numpy() >= 0) & (d.decoder_alpha.numpy() < 1))


ROUND_TRIP = [
    ("last", {"normalization": "softmax"}),
    ("w_avg", {"trainable": True}),
    ("w_avg_t", {}),
    ("w_time_avg", {"trainable": True, "beta1": 2.0}),
    ("max_conf", {"trainable": True}),
    ("time_max", {"beta": 0.5}),
    ("thresh", {"threshold": 0.7}),
    ("mlp", {"hidden": [6], "weight_decay": 1e-4}),
    ("conv1d", {"windows": [2, 4], "filters": [3, 2], "pool": "avg", "conv_activation": "relu"}),
]


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_config_round_trip(name, kwargs):
    L = logits(2, 6)
    d = decoders.make(name, **kwargs)
    expected = run(d, L)
    config = d.get_config()
    for key, val in kwargs.items():
        assert config[key] == val
    clone = type(d).from_config(config)
    clone.build(L.shape)
    clone.set_weights(d.get_weights())
    np.testing.assert_array_equal(run(clone, L), expected)
    assert clone.get_config() == config

    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(d))
    assert type(restored) is type(d)
    if not restored.built:
        restored.build(L.shape)
    restored.set_weights(d.get_weights())
    np.testing.assert_array_equal(run(restored, L), expected)

    made = decoders.make({"name": name, **kwargs})
    assert type(made) is type(d) and made.get_config().items() >= kwargs.items()


# Keras' own saving code converts tensors with np.array(copy=False) (NumPy 2 deprecation).
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_saved_model_file_round_trip(tmp_path):
    inputs = keras.Input((6, K))
    outputs = [decoders.make(n)(inputs) for n in ("thresh", "conv1d", "w_avg_t")]
    model = keras.Model(inputs, outputs)
    L = logits(2, 6)
    expected = model(L)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for a, b in zip(expected, loaded(L)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# -- gradients and mixed precision ---------------------------------------------------------------
@pytest.mark.parametrize(
    "name,kwargs",
    [("w_avg_t", {}), ("mlp", {"hidden": (8,)}), ("conv1d", {}), ("w_avg", {"trainable": True}),
     ("w_time_avg", {"trainable": True})],
)
def test_gradients_flow(name, kwargs):
    L = tf.constant(logits(2, 6))
    d = decoders.make(name, **kwargs)
    d.build(L.shape)
    assert d.trainable_variables
    with tf.GradientTape() as tape:
        tape.watch(L)
        loss = tf.reduce_sum(tf.square(d(L)))
    grads = tape.gradient(loss, d.trainable_variables + [L])
    for var, grad in zip(d.trainable_variables + [L], grads):
        assert grad is not None, var.name
        assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0), var.name


def test_selection_gradients_reach_chosen_logits():
    L = tf.constant(logits(2, 5))
    d = decoders.make("max_conf")
    with tf.GradientTape() as tape:
        tape.watch(L)
        out = d(L)
    grad = tape.gradient(out, L).numpy()
    steps = np.argmax(np_softmax(L.numpy(), 2).max(2), axis=1)
    expected = np.zeros_like(grad)
    expected[np.arange(2), steps] = 1.0
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize("name", sorted(decoders.names()))
def test_mixed_bfloat16(name):
    keras.config.set_dtype_policy("mixed_bfloat16")
    L = tf.cast(tf.constant(logits(2, 6)), "bfloat16")
    d = decoders.make(name)
    assert d.dtype_policy.name == "float32"
    out = d(L)
    assert out.dtype == tf.float32
    assert out.shape == (2, K)
    assert np.all(np.isfinite(out.numpy()))
    assert all(w.dtype == "float32" for w in d.weights)
    # Same numbers as a float32 decoder on the bf16-rounded logits.
    keras.config.set_dtype_policy("float32")
    ref = type(d).from_config(d.get_config())
    ref.build(L.shape)
    ref.set_weights(d.get_weights())
    np.testing.assert_allclose(out.numpy(), ref(tf.cast(L, "float32")).numpy(), rtol=1e-5, atol=1e-5)


# -- registry and errors -------------------------------------------------------------------------
def test_registry():
    assert decoders.names() == sorted(
        ["last", "w_avg", "w_avg_t", "w_time_avg", "max_conf", "time_max", "thresh", "mlp", "conv1d"]
    )
    assert decoders.get("simple") is decoders.LastStep
    assert decoders.get("tmaxconf") is decoders.MaxConfidence
    assert decoders.get("dthresh") is decoders.Threshold
    assert decoders.get(decoders.TimeMax) is decoders.TimeMax
    d = decoders.make("thresh", name="my_decoder")
    assert d.name == "my_decoder"
    assert decoders.make(d) is d
    assert decoders.make({"name": "thresh", "threshold": 0.5}, name="x").name == "x"
    assert decoders.make({"name": "max_conf", "trainable": True}).beta_trainable
    with pytest.raises(ValueError, match="instance"):
        decoders.make(d, trainable=True)
    with pytest.raises(ValueError, match="'name' key"):
        decoders.make({"trainable": True})
    with pytest.raises(ValueError, match="must be a name"):
        decoders.make(3)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        decoders.get("avg")
    message = str(err.value)
    assert "'avg'" in message
    for name in decoders.names() + ["tmaxconf", "dthresh", "simple"]:
        assert name in message
    with pytest.raises(ValueError, match="valid decoder names"):
        decoders.make({"name": "max"})


@pytest.mark.parametrize("name", sorted(decoders.names()))
def test_rank_2_input_is_rejected(name):
    d = decoders.make(name)
    with pytest.raises(ValueError, match=rf"{name}.*rank 3"):
        d(np.zeros((2, K), "float32"))


def test_bad_shapes_and_arguments():
    with pytest.raises(ValueError, match=r"conv1d decoder.*4 time steps.*largest convolution window 6"):
        decoders.make("conv1d")(logits(2, 4))
    decoders.make("conv1d", windows=(2, 3, 4))(logits(2, 4))  # fits
    for name in ("mlp", "w_avg_t", "conv1d"):
        with pytest.raises(ValueError, match=rf"{name} decoder.*static number of time steps"):
            decoders.make(name)(keras.Input((None, K)))
        with pytest.raises(ValueError, match=rf"{name} decoder.*static number of classes"):
            decoders.make(name)(keras.Input((5, None)))
    with pytest.raises(ValueError, match="at least one time step"):
        decoders.make("max_conf").build((2, 0, K))
    with pytest.raises(ValueError, match="w_avg_t decoder.*built for 6"):
        d = decoders.make("w_avg_t")
        d.build((2, 6, K))
        d.decode(tf.zeros((2, 5, K)))
    bad = [
        ("conv1d", {"pool": "min"}, "pool"),
        ("conv1d", {"windows": (2, 0)}, "windows"),
        ("conv1d", {"windows": (2, 2)}, "distinct"),
        ("conv1d", {"filters": (4, 4)}, "one filter count per window"),
        ("conv1d", {"activation": "nope"}, "activation"),
        ("mlp", {"hidden": (250, -1)}, "hidden"),
        ("mlp", {"weight_decay": -1.0}, "weight_decay"),
        ("max_conf", {"trainable": "yes"}, "trainable"),
        ("thresh", {"threshold": "high"}, "threshold"),
        ("w_avg", {"beta": None}, "beta"),
        ("w_avg_t", {"trainable": 1}, "trainable"),
        ("last", {"normalization": "l2"}, "normalization"),
    ]
    for name, kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            decoders.make(name, **kwargs)
