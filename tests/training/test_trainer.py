"""The training loop: mirrored == one device, exact resume, NaN stop, schedules, evaluation."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.training import TrainingError, WarmupSchedule, evaluate, get_strategy, make_optimizer, train

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (128, 12, 12, 3)).astype("float32")
Y = (X[:, :6].mean((1, 2, 3)) > X[:, 6:].mean((1, 2, 3))).astype("int32")


def dataset_fn(batch_size, training, input_context=None, x=X):
    ds = tf.data.Dataset.from_tensor_slices((x, Y))
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if training:
        ds = ds.shuffle(128, seed=0).repeat()
    return ds.batch(batch_size, drop_remainder=training)


def model_fn():
    return ConvRNN(builders.chain(3, input_shape=(12, 12, 3), base_depth=4, classes=2, recurrent_from=2), times=4)


def constant_sgd(total_steps):
    return make_optimizer(0.05, clipvalue=None)


def _weights(summary):
    return [np.asarray(w) for w in summary["model"].get_weights()]


def test_resume_is_exact(tmp_path):
    tf.config.experimental.enable_op_determinism()
    full = train(str(tmp_path / "full"), model_fn, dataset_fn, train_steps=12, global_batch_size=16,
                 optimizer_fn=constant_sgd, checkpoint_every=100, verbose=False, summaries=False)
    part = str(tmp_path / "part")
    train(part, model_fn, dataset_fn, train_steps=8, global_batch_size=16, optimizer_fn=constant_sgd,
          checkpoint_every=4, verbose=False, summaries=False)
    resumed = train(part, model_fn, dataset_fn, train_steps=12, global_batch_size=16, optimizer_fn=constant_sgd,
                    checkpoint_every=4, verbose=False, summaries=False)
    assert resumed["resumed_from"] == 8
    for a, b in zip(_weights(full), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert json.load(open(os.path.join(part, "summary.json")))["steps"] == 12


def test_mirrored_on_two_devices_matches_one_device(tmp_path):
    one = train(str(tmp_path / "one"), model_fn, dataset_fn, train_steps=4, global_batch_size=16,
                optimizer_fn=constant_sgd, verbose=False, summaries=False)
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    two = train(str(tmp_path / "two"), model_fn, dataset_fn, strategy=strategy, train_steps=4,
                global_batch_size=16, optimizer_fn=constant_sgd, verbose=False, summaries=False)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    for a, b in zip(_weights(one), _weights(two)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    poisoned = X.copy()
    poisoned[:] = np.nan
    def late_nan(batch_size, training, input_context=None):
        good = dataset_fn(batch_size, training).take(3)
        bad = tf.data.Dataset.from_tensor_slices((poisoned, Y)).repeat().batch(batch_size, drop_remainder=True)
        return good.concatenate(bad)

    with pytest.raises(TrainingError, match=r"non-finite loss .* at step 3; .*last good checkpoint is .*ckpt-2"):
        train(str(tmp_path / "nan"), model_fn, late_nan, train_steps=10, global_batch_size=16,
              optimizer_fn=constant_sgd, checkpoint_every=2, verbose=False, summaries=False)
    assert tf.train.latest_checkpoint(str(tmp_path / "nan" / "checkpoints")).endswith("ckpt-2")


def test_evaluate_counts_top_k_per_step():
    model = model_fn()
    model.build()
    result = evaluate(model, dataset_fn, global_batch_size=32)
    logits = np.asarray(model(X))
    seq = np.asarray(model.unroll(X)[model.spec.output])
    assert result["examples"] == 128
    assert result["top1"] == pytest.approx(np.mean(logits.argmax(-1) == Y))
    assert result["top1_per_step"][-1] == pytest.approx(result["top1"])  # "last" decodes step T-1
    assert result["top1_per_step"] == pytest.approx([np.mean(seq[:, t].argmax(-1) == Y) for t in range(4)])
    assert result["top5"] == 1.0  # 2 classes


def test_schedules():
    warm = WarmupSchedule(0.1, 100, "cosine", warmup_steps=10)
    assert float(warm(0)) == pytest.approx(0.01)
    assert float(warm(9)) == pytest.approx(0.1)
    assert float(warm(55)) == pytest.approx(0.1 * 0.5 * (1 + np.cos(np.pi * 0.5)), rel=1e-5)
    step = WarmupSchedule(0.1, 100, "step", boundaries=(30, 60), decay_rate=0.1)
    assert [round(float(step(s)), 6) for s in (0, 30, 59, 60)] == [0.1, 0.01, 0.01, 0.001]
    assert WarmupSchedule.from_config(warm.get_config()).get_config() == warm.get_config()
    with pytest.raises(ValueError, match="schedule kind"):
        WarmupSchedule(0.1, 10, "linear")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer(0.1, "lion")


def test_strategy_errors():
    with pytest.raises(ValueError, match="strategy must be one of"):
        get_strategy("parameter_server")
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        get_strategy("multi_worker_mirrored")
    with pytest.raises(ValueError, match="needs --tpu"):
        get_strategy("tpu")
