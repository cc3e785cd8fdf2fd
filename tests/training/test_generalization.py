"""Categorisation before vs after neural training: logit caching, decoder fitting, the table."""

import numpy as np
import pytest
import tensorflow as tf

from convrnn_tf import decoders
from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.training import generalization as gen

CLASSES, N = 8, 24


def small_model():
    spec = builders.chain(depth=3, input_shape=(16, 16, 3), base_depth=4, classes=CLASSES, cell="gru",
                           recurrent_from=2)  # conv2 gets the GRU (the default 3 leaves none)
    model = ConvRNN(spec, times=6)
    model.build()
    return model


def perturbed_copy(model, scale=0.5, seed=1):
    """Same weights, except the recurrent cells' (``memory``) weights get Gaussian noise."""
    other = ConvRNN(model.spec, times=model.times)
    other.build()
    other.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    touched = 0
    for v in other.trainable_weights:
        if "memory" in v.path:
            v.assign(v.numpy() + scale * rng.standard_normal(v.shape).astype("float32"))
            touched += 1
    assert touched
    return other


@pytest.fixture(scope="module")
def model():
    """Shared, so its traced unroll (cached per model by `logit_sequences`) is reused across tests."""
    return small_model()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N, 16, 16, 3), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, N)
    return images, labels


def dataset_fn_from(images, labels):
    """A ``dataset_fn`` as `experiment.dataset` returns: normalised images, infinite when training."""

    def fn(batch_size, training, input_context=None):
        from convrnn_tf.features import normalize_images

        ds = tf.data.Dataset.from_tensor_slices((normalize_images(images), labels.astype(np.int32)))
        return (ds.repeat() if training else ds).batch(batch_size)

    return fn


def test_window_and_logit_sequences_match_unroll(model, data):
    images, _ = data
    steps = gen.decoded_steps(model)
    assert steps == [3, 4, 5]  # [number of nodes, times)
    from convrnn_tf.features import normalize_images

    x = normalize_images(images)
    ref = model.unroll(x, steps=steps)[model.spec.output].numpy()
    got = gen.logit_sequences(model, images, batch_size=10)  # uint8: normalised automatically
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gen.logit_sequences(model, x, batch_size=7, normalize=False), ref, rtol=1e-5, atol=1e-5)
    # a dataset also gives its labels back
    fn = dataset_fn_from(images, data[1])
    logits, labels = gen.logit_sequences(model, fn(5, training=False))
    np.testing.assert_allclose(logits, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, data[1])
    # the window clips to stay non-empty for a short unroll
    short = ConvRNN(model.spec, times=2)
    assert gen.decoded_steps(short) == [1]


def test_last_decoder_accuracy_equals_numpy(model, data):
    images, labels = data
    frame = gen.categorization_table({"m": model}, neural_images=images, neural_labels=labels, decoders=("last",))
    from convrnn_tf.features import normalize_images

    seq = model.unroll(normalize_images(images))[model.spec.output].numpy()
    expected = np.mean(seq[:, -1].argmax(-1) == labels)
    assert frame["accuracy"].item() == pytest.approx(expected)
    assert frame["n"].item() == N and frame["chance"].item() == pytest.approx(np.bincount(labels).max() / N)


def synthetic(n, rng, steps=4, classes=5, informative=1):
    """Logits where only step ``informative`` carries the class, as a *low* value (noise elsewhere)."""
    y = rng.integers(0, classes, n)
    x = rng.standard_normal((n, steps, classes)).astype("float32")
    x[np.arange(n), informative, y] -= 4.0
    return x, y


def test_fit_decoder_learns_and_is_deterministic():
    rng = np.random.default_rng(0)
    (x, y), (xt, yt) = synthetic(400, rng), synthetic(400, rng)
    last = decoders.make("last")
    assert gen.fit_decoder(last, x, y) is last  # nothing to fit
    assert gen.decoder_accuracy(last, xt, yt) < 0.35  # chance is 0.2
    spec = {"name": "mlp", "hidden": [32]}
    untrained = gen.fit_decoder(spec, x, y, steps=0, seed=0)
    assert gen.decoder_accuracy(untrained, xt, yt) < 0.4
    fitted = gen.fit_decoder(spec, x, y, steps=150, learning_rate=0.02, seed=0)
    assert gen.decoder_accuracy(fitted, xt, yt) > 0.9
    again = gen.fit_decoder(spec, x, y, steps=150, learning_rate=0.02, seed=0)
    for a, b in zip(fitted.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = gen.fit_decoder(spec, x, y, steps=150, learning_rate=0.02, seed=1)
    assert not np.array_equal(fitted.get_weights()[0], other.get_weights()[0])
    # mini-batches, and a temperature decoder, train too
    mini = gen.fit_decoder({"name": "w_avg", "trainable": True}, x, y, steps=20, batch_size=64, seed=0)
    assert mini.trainable_weights and np.isfinite(mini.get_weights()[0]).all()


def test_table_format_and_plot(model, data, tmp_path, monkeypatch):
    images, labels = data
    fitted, real_fit = [], gen.fit_decoder
    monkeypatch.setattr(gen, "fit_decoder", lambda dec, *a, **k: fitted.append(dec) or real_fit(dec, *a, **k))
    before = model
    after = perturbed_copy(before)
    assert not np.array_equal(gen.logit_sequences(before, images[:8]), gen.logit_sequences(after, images[:8]))
    fn = dataset_fn_from(images, labels)
    dec_specs = ("last", {"name": "w_avg", "trainable": True}, {"name": "mlp", "hidden": [16]})
    frame = gen.categorization_table(
        {"before": before, "after": after}, neural_images=images[:10], neural_labels=labels[:10],
        eval_dataset_fn=fn, train_dataset_fn=fn, decoders=dec_specs, train_batches=3, batch_size=8, fit_steps=20)
    assert list(frame.columns) == ["model", "decoder", "test_set", "accuracy", "n", "chance"]
    assert len(frame) == 2 * 3 * 2
    assert set(frame["model"]) == {"before", "after"}
    assert set(frame["decoder"]) == {"last", "w_avg(trainable=True)", "mlp(hidden=[16])"}
    assert set(frame["test_set"]) == {gen.NEURAL, gen.VALIDATION}
    assert set(frame.loc[frame["test_set"] == gen.NEURAL, "n"]) == {10}
    assert set(frame.loc[frame["test_set"] == gen.VALIDATION, "n"]) == {N}
    assert frame["accuracy"].between(0, 1).all()
    assert len(fitted) == 4 and len({id(d) for d in fitted}) == 4  # w_avg and mlp, fresh per model
    text = gen.format_categorization_table(frame)
    assert "after-before" in text and len(text.splitlines()) == 2 + 6
    path = gen.plot_categorization(frame, str(tmp_path / "cat.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # a missing test set is skipped; category names map through the embedded categories
    from convrnn_tf.data._shapes import CATEGORY_NAMES

    names = np.array(CATEGORY_NAMES)[labels[:10]]
    only = gen.categorization_table({"before": before}, neural_images=images[:10], neural_labels=names,
                                    decoders=("last",))
    assert list(only["test_set"]) == [gen.NEURAL]
    assert only["accuracy"].item() == pytest.approx(
        frame.query("model == 'before' and decoder == 'last' and test_set == @gen.NEURAL")["accuracy"].item())


def test_fresh_decoder_clones_instances():
    instance = decoders.make({"name": "mlp", "hidden": [3]})
    clone = gen.fresh_decoder(instance)
    assert clone is not instance and clone.hidden == (3,) and not instance.built
    assert gen.fresh_decoder("simple").registered_name == "last"


def test_bad_inputs(model, data):
    images, labels = data
    with pytest.raises(ValueError, match=r"neural_labels: label 8 .* 8 classes"):
        gen.categorization_table({"m": model}, neural_images=images[:2], neural_labels=[0, 8])
    with pytest.raises(ValueError, match=r"images: expected \[N, H, W, C\] images, got shape \(16, 16, 3\)"):
        gen.logit_sequences(model, images[0])
    with pytest.raises(ValueError, match="unknown decoder 'nope'"):
        gen.categorization_table({"m": model}, neural_images=images, neural_labels=labels, decoders=("nope",))
    empty = tf.data.Dataset.from_tensor_slices((np.zeros((0, 16, 16, 3), np.float32), np.zeros(0, np.int32)))
    with pytest.raises(ValueError, match="empty"):
        gen.logit_sequences(model, empty.batch(4))
    with pytest.raises(ValueError, match="empty"):
        gen.categorization_table({"m": model}, eval_dataset_fn=lambda b, training: empty.batch(b), decoders=("last",))
    with pytest.raises(ValueError, match="no train_dataset_fn"):
        gen.categorization_table({"m": model}, neural_images=images, neural_labels=labels, decoders=("mlp",))
    with pytest.raises(ValueError, match="unknown category names \\['zebras'\\]"):
        gen.categorization_table({"m": model}, neural_images=images[:1], neural_labels=["zebras"])
    with pytest.raises(ValueError, match="3 labels for 2 images"):
        gen.categorization_table({"m": model}, neural_images=images[:2], neural_labels=[0, 1, 2])
    with pytest.raises(ValueError, match="dataset batch 0 labels: label 9"):
        bad = tf.data.Dataset.from_tensor_slices((images[:2], np.array([0, 9], np.int32))).batch(2)
        gen.logit_sequences(model, bad)
