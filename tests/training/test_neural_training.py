"""Neural training: frozen feedforward weights stay bit-identical, recurrent ones train, readouts match a
NumPy reference, the data splits are disjoint, and bad inputs give one clear error."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.neural import NeuralDataError, save_assembly
from convrnn_tf.neural.simulate import simulate_recording
from convrnn_tf.training import freezing, neural_data, train
from convrnn_tf.training.neural_readout import NeuralReadout
from convrnn_tf.training.neural_task import NeuralTask
from convrnn_tf.training.optim import make_optimizer
from convrnn_tf.zoo.checkpoint import CheckpointError

REGIONS = {"V4": "conv2", "IT": "conv3"}


def small_spec(feedback=(("conv3", "conv2"),), cell="gru"):
    return builders.chain(depth=4, input_shape=(16, 16, 3), base_depth=4, classes=8, cell=cell, recurrent_from=2,
                          feedback=list(feedback))


def model_fn(times=13, **kwargs):
    return lambda: ConvRNN(small_spec(**kwargs), times=times)


@pytest.fixture(scope="module")
def recording():
    return simulate_recording(image_size=16, images_per_object=2, n_v4=10, n_it=10, n_reps=4, bin_end_ms=130.0)


@pytest.fixture(scope="module")
def start_checkpoint(tmp_path_factory):
    keras.utils.set_random_seed(3)
    model = model_fn()()
    model.build()
    prefix = str(tmp_path_factory.mktemp("start") / "ckpt")
    return tf.train.Checkpoint(model=model).write(prefix)


def task_for(recording, checkpoint, **kwargs):
    kwargs.setdefault("report", False)
    return NeuralTask(neural=recording, region_layers=REGIONS, init_checkpoint=checkpoint, **kwargs)


def sgd(total_steps):
    return make_optimizer(0.05, clipvalue=None, momentum=0.9)


# ----------------------------------------------------------------------------- which weights train
def test_partition_roles_and_feedback_rows():
    model = ConvRNN(small_spec(), times=5, decoder={"name": "w_avg", "trainable": True})
    part = freezing.partition(model)
    by_path = {e.path: e for e in part.entries}
    assert {e.role for e in part.entries} == {"cells", "feedback", "decoder", "feedforward"}
    assert all(e.trainable for e in part.entries if e.role in ("cells", "decoder"))
    assert not any(e.trainable for e in part.entries if e.role == "feedforward")
    # conv2's harbor concatenates conv1 (4 channels) then conv3 (8 channels): rows 4..11 are feedback
    entry = by_path["conv2/pre_0/kernel"]
    assert entry.role == "feedback" and entry.variable.shape[2] == 12
    expected = np.zeros(entry.variable.shape, bool)
    expected[:, :, 4:12, :] = True
    np.testing.assert_array_equal(entry.mask, expected)
    assert part.count(True) == sum(int(np.prod(e.variable.shape)) for e in part.entries
                                   if e.role in ("cells", "decoder")) + int(expected.sum())
    assert "feedback rows" in part.describe() and "frozen" in part.describe()
    # only cells; a pattern trains the readout fc too, and freeze wins over train
    part = freezing.partition(model, trainable=("cells",), train_patterns=[r"readout/"],
                              freeze_patterns=[r"readout/.*bias"])
    on = {e.path for e in part.entries if e.trainable}
    assert "readout/pre_1/kernel" in on and "readout/pre_1/bias" not in on
    assert not any(p.startswith("conv2/pre_0") for p in on)
    with pytest.raises(ValueError, match="unknown variable role"):
        freezing.partition(model, trainable=("cells", "recurrent"))


# ----------------------------------------------------------------------------- readout
def test_readout_matches_numpy_and_round_trips():
    rng = np.random.default_rng(0)
    feats = {"a": rng.normal(size=(3, 4, 6, 6, 2)).astype("float32"), "b": rng.normal(size=(3, 4, 5)).astype("float32")}
    bin_steps = [[0], [1, 2], [3]]
    layer = NeuralReadout({"IT": ["a", "b"], "V4": "b"}, {"IT": 3 * 3 * 2 + 5, "V4": 5}, {"IT": 4, "V4": 2},
                          bin_steps, pool=2)
    layer.build()
    out = layer(feats)
    pooled = feats["a"].reshape(3, 4, 3, 2, 3, 2, 2).mean(axis=(3, 5)).reshape(3, 4, -1)
    x = np.concatenate([pooled, feats["b"]], axis=-1)
    x = np.stack([x[:, b].mean(axis=1) for b in bin_steps], axis=1)
    w, c = (np.asarray(v) for v in (layer.kernels["IT"], layer.biases["IT"]))
    np.testing.assert_allclose(np.asarray(out["IT"]), x @ w + c, rtol=1e-5, atol=1e-5)
    assert out["V4"].shape == (3, 3, 2)
    clone = NeuralReadout.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, NeuralReadout) and restored.bin_steps == bin_steps
    with pytest.raises(ValueError, match="reads layer 'a', which was not given"):
        layer({"b": feats["b"]})


# ----------------------------------------------------------------------------- data
def test_prepared_data_splits_and_targets(recording):
    data = neural_data.prepare(recording, regions=["V4", "IT"], bins=(80, 120), seed=1)
    assert data.n_bins == 4 and list(data.time_bin_start) == [80, 90, 100, 110]
    assert not set(data.train_images) & set(data.test_images)
    assert len(data.train_images) + len(data.test_images) == len(data.stimulus_id)
    for r in ("V4", "IT"):
        assert not set(data.train_neurons[r]) & set(data.heldout_neurons[r])
        assert len(data.train_neurons[r]) == len(data.heldout_neurons[r]) == 5
        z = data.targets(r, data.train_images)
        np.testing.assert_allclose(z.mean(axis=(0, 1)), 0, atol=1e-4)
        np.testing.assert_allclose(z.std(axis=(0, 1)), 1, atol=1e-3)
    # responses equal the repetition average of the trials (independent: from the assembly directly)
    a = data.assembly
    sid = a["stimulus_id"].values.astype(str)
    region = a["region"].values.astype(str)
    first_it = np.flatnonzero(region == "IT")[0]
    trials = a.values[sid == data.stimulus_id[0]][:, first_it, :]
    np.testing.assert_allclose(data.responses["IT"][0, :, 0], trials.mean(axis=0), rtol=1e-6)
    objects = neural_data.prepare(recording, image_split="objects", seed=1)
    assert not set(objects.object_name[objects.train_images]) & set(objects.object_name[objects.test_images])


# ----------------------------------------------------------------------------- training
def _values(variables):
    return [np.array(v.numpy()) for v in variables]


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_frozen_weights_do_not_change_and_recurrent_ones_do(tmp_path, recording, start_checkpoint, strategy):
    from convrnn_tf.training import get_strategy

    task = task_for(recording, start_checkpoint, bins=(70, 130))
    dist = get_strategy(strategy) if strategy != "default" else None
    summary = train(str(tmp_path / "run"), model_fn(), task.dataset_fn, strategy=dist, task=task, train_steps=3,
                    global_batch_size=8, optimizer_fn=sgd, verbose=False, summaries=False)
    trained = summary["model"]
    start = model_fn()()
    start.build()
    tf.train.Checkpoint(model=start).read(start_checkpoint).expect_partial()
    before = {freezing._relative(start, v): np.asarray(v) for v in start.weights}
    part = task.partition
    assert part.frozen and part.trainable and part.masked
    for e in part.entries:
        now, then = np.asarray(e.variable), before[e.path]
        if not e.trainable:
            np.testing.assert_array_equal(now, then, err_msg=f"frozen {e.path} changed")
        elif e.mask is not None:
            np.testing.assert_array_equal(now[~e.mask], then[~e.mask], err_msg=f"frozen rows of {e.path} changed")
            assert not np.array_equal(now[e.mask], then[e.mask]), f"feedback rows of {e.path} did not train"
        elif e.role == "cells" and "weights" in e.path:
            assert not np.array_equal(now, then), f"recurrent {e.path} did not train"
    assert np.isfinite(summary["loss"]) and -1 <= summary["r"] <= 1
    assert trained is not None


def test_checkpoint_holds_readout_and_resumes(tmp_path, recording, start_checkpoint):
    task = task_for(recording, start_checkpoint)
    d = str(tmp_path / "run")
    first = train(d, model_fn(), task.dataset_fn, task=task, train_steps=2, global_batch_size=8, optimizer_fn=sgd,
                  verbose=False, summaries=False)
    kernels = _values(task.readout.weights)
    again = task_for(recording, start_checkpoint)
    second = train(d, model_fn(), again.dataset_fn, task=again, train_steps=2, global_batch_size=8,
                   optimizer_fn=sgd, verbose=False, summaries=False)
    assert second["resumed_from"] == 2
    for a, b in zip(kernels, _values(again.readout.weights)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first["model"].get_weights(), second["model"].get_weights()):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- errors
def _setup(task, times=13, **kwargs):
    model = model_fn(times=times, **kwargs)()
    model.build()
    task.setup(model, log=lambda *a: None)
    return model


def test_clear_errors(tmp_path, recording, start_checkpoint):
    with pytest.raises(CheckpointError, match="nowhere/ckpt.*does not exist"):
        _setup(task_for(recording, str(tmp_path / "nowhere" / "ckpt")))
    other = ConvRNN(builders.chain(depth=4, input_shape=(16, 16, 3), base_depth=6, classes=8, cell="gru",
                                   recurrent_from=2), times=13)
    other.build()
    bad = tf.train.Checkpoint(model=other).write(str(tmp_path / "other" / "ckpt"))
    with pytest.raises(CheckpointError, match="other/ckpt.*does not match"):
        _setup(task_for(recording, bad))
    with pytest.raises(ValueError, match="init_checkpoint is required"):
        _setup(task_for(recording, None))
    with pytest.raises(ValueError, match=r"region\(s\) \['IT'\] have no mapped layer"):
        _setup(NeuralTask(neural=recording, region_layers={"V4": "conv2"}, regions=["V4", "IT"],
                          init_checkpoint=start_checkpoint))
    with pytest.raises(ValueError, match="region 'IT' maps to layer 'conv9', not a node"):
        _setup(NeuralTask(neural=recording, region_layers={"V4": "conv2", "IT": "conv9"},
                          init_checkpoint=start_checkpoint))
    with pytest.raises(NeuralDataError, match="time bin 120-130 ms .* outside the 12 steps"):
        _setup(task_for(recording, start_checkpoint), times=12)
    with pytest.raises(ValueError, match="unknown loss"):
        task_for(recording, start_checkpoint, loss="huber")


def test_neural_stimuli_missing_from_the_images(tmp_path, recording):
    path = str(tmp_path / "rec.nc")
    save_assembly(recording.assembly, path)
    images = recording.images[:-3]
    np.savez(tmp_path / "stimuli.npz", images=images, stimulus_id=recording.stimulus_id[:-3])
    with pytest.raises(NeuralDataError, match=r"stimuli .*stimuli.npz.*3 of \d+ neural stimulus ids .*have no"):
        neural_data.prepare(path, stimuli=str(tmp_path / "stimuli.npz"))
    with pytest.raises(ValueError, match="stimuli= .* is required"):
        neural_data.prepare(path)
    with pytest.raises(FileNotFoundError, match="neural recording not found"):
        neural_data.prepare(str(tmp_path / "none.nc"), stimuli=str(tmp_path / "stimuli.npz"))
    np.savez(tmp_path / "all.npz", images=recording.images, stimulus_id=recording.stimulus_id)
    data = neural_data.prepare(path, stimuli=str(tmp_path / "all.npz"))
    order = {s: i for i, s in enumerate(recording.stimulus_id)}
    np.testing.assert_array_equal(data.images, recording.images[[order[s] for s in data.stimulus_id]])
    assert os.path.exists(path)


# ----------------------------------------------------------------------------- it learns the dynamics
def test_neural_training_recovers_a_known_recurrent_model(tmp_path):
    """Ground truth: a teacher convRNN with the student's feedforward weights and other recurrent weights.
    Training only the student's recurrent weights on the teacher's responses must raise late-bin
    predictivity on held-out images, for the trained neurons and for held-out neurons (fresh PLS)."""
    from convrnn_tf.data import embedded
    from convrnn_tf.neural.simulate import simulate_from_model
    from convrnn_tf.training import neural_report

    spec = builders.chain(depth=4, input_shape=(16, 16, 3), base_depth=8, classes=8, cell="gru", recurrent_from=2,
                          feedback=[("conv3", "conv2")])
    make = lambda: ConvRNN(spec, times=13)  # noqa: E731
    keras.utils.set_random_seed(1)
    start = make()
    start.build()
    ckpt = tf.train.Checkpoint(model=start).write(str(tmp_path / "start" / "ckpt"))
    keras.utils.set_random_seed(2)
    teacher = make()
    teacher.build()
    for s, t in zip(freezing.partition(start).entries, freezing.partition(teacher).entries):
        own = 2.0 * t.variable.numpy()  # the teacher's recurrent weights: its own, larger
        keep = ~t.mask if t.mask is not None else np.full(t.variable.shape, not t.trainable)
        t.variable.assign(np.where(keep, s.variable.numpy(), own))
    images, meta = embedded.load(seed=0, image_size=16, images_per_object=4)
    rec = simulate_from_model(teacher, images, {"stimulus_id": meta["image_id"], **meta},
                              {"V4": "conv2", "IT": "conv3"}, n_neuroids=40, bins=(70, 130), n_reps=8)
    task = NeuralTask(neural=rec, region_layers={"V4": "conv2", "IT": "conv3"}, init_checkpoint=ckpt, report=False)
    summary = train(str(tmp_path / "run"), make, task.dataset_fn, task=task, train_steps=200, global_batch_size=16,
                    optimizer_fn=lambda n: make_optimizer(3e-3, name="adam", clipvalue=None), verbose=False,
                    summaries=False)
    frame = neural_report.predictivity(task, {"before": start, "after": summary["model"]}, n_splits=2,
                                       ceiling_splits=2)
    late = neural_report.summarize_predictivity(frame)["IT"]
    trained, held = late["train"]["held-out"], late["held-out"]["held-out"]
    assert trained["late_after"] > trained["late_before"] + 0.05, trained
    assert held["late_after"] > held["late_before"] + 0.02, held
    # the feedforward weights are the start's, bit for bit
    for a, b in zip(task.partition.frozen, freezing.partition(start).frozen):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("loss", ["mse", "correlation"])
def test_loss_matches_numpy(recording, start_checkpoint, loss):
    task = task_for(recording, start_checkpoint, loss=loss)
    model = _setup(task)
    x, y = next(iter(task.dataset_fn(6, training=True)))
    per_example, r_sum = task.loss(model, x, y, training=False)
    preds = {k: np.asarray(v, np.float64) for k, v in task.predict(model, x).items()}
    rs, mses = [], []
    for region in task.data.regions:
        p, t = preds[region], np.asarray(y[region], np.float64)
        p2, t2 = p.reshape(-1, p.shape[-1]), t.reshape(-1, t.shape[-1])  # (batch x bins) samples per neuron
        r = [np.corrcoef(p2[:, j], t2[:, j])[0, 1] for j in range(p2.shape[1])]
        rs.append(np.mean(r))
        mses.append(((p - t) ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(float(r_sum) / 6, np.mean(rs), rtol=1e-4, atol=1e-5)
    expected = np.mean(mses, axis=0) if loss == "mse" else np.full(6, 1 - np.mean(rs))
    np.testing.assert_allclose(np.asarray(per_example), expected, rtol=1e-4, atol=1e-5)


def test_ridge_initialised_readout_beats_chance(recording, start_checkpoint):
    """The readout starts from ridge regression on the starting features: on the training images it
    predicts the targets better than zero (the z-scored mean) does."""
    task = task_for(recording, start_checkpoint)
    model = _setup(task)
    images = task.data.images[task.data.train_images]
    from convrnn_tf.data.pipelines import normalize

    preds = task.predict(model, normalize(tf.convert_to_tensor(images)))
    for region in task.data.regions:
        target = task.data.targets(region, task.data.train_images)
        mse = float(np.mean((np.asarray(preds[region]) - target) ** 2))
        assert mse < float(np.mean(target ** 2)) * 0.95, region


def test_frozen_rows_are_masked_in_gradients_and_restored_after_updates(recording, start_checkpoint):
    """Each of the two guards alone keeps frozen kernel rows fixed; check both separately."""
    task = task_for(recording, start_checkpoint)
    _setup(task)
    (entry,) = task.partition.masked
    var, mask = entry.variable, entry.mask
    original = np.array(var.numpy())
    grads = task.transform_gradients([tf.ones_like(var), None], [var, var])
    np.testing.assert_array_equal(np.asarray(grads[0]), mask.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(grads[1]), np.zeros(var.shape, np.float32))
    var.assign(original + 1.0)  # an optimiser step that moved every row (e.g. weight decay)
    task.constrain()
    now = var.numpy()
    np.testing.assert_array_equal(now[~mask], original[~mask])
    np.testing.assert_array_equal(now[mask], original[mask] + 1.0)
