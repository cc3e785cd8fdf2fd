"""bin/train and bin/evaluate end to end, and a SIGKILL mid-training that resumes exactly."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = [
    "chain_spec.depth = 3", "chain_spec.base_depth = 4", "chain_spec.input_shape = (32, 32, 3)",
    "chain_spec.feedback = []", "build_model.times = 4", "dataset.image_size = 32",
    "dataset.images_per_object = 1", "run.batch_size = 8", "optimizer.schedule = 'constant'",
    "optimizer.warmup_steps = 0",
]


def _cmd(binary, model_dir, *bindings):
    args = [sys.executable, str(REPO / "bin" / binary), "--gin_file=quickstart.gin", f"--model_dir={model_dir}"]
    return args + [f"--gin_bindings={b}" for b in TINY + list(bindings)]


def _env(tmp_path):
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                CONVRNN_TF_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO))


def _run(cmd, env, timeout=300):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout


def _variables(model_dir):
    """Every saved value (model weights, optimizer slots, step) but the bookkeeping."""
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints"))
    skip = ("save_counter", "iterator", "_CHECKPOINTABLE_OBJECT_GRAPH")
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if not k.startswith(skip)}


def test_train_then_evaluate(tmp_path):
    env = _env(tmp_path)
    out = _run(_cmd("train", tmp_path / "run", "run.train_steps = 3", "run.checkpoint_every = 2"), env)
    assert "trained 3 steps" in out and "top-1 per time step" in out
    for f in ("operative_config.gin", "config.parsed.gin", "command.txt", "summary.json"):
        assert (tmp_path / "run" / f).exists(), f
    assert "run.train_steps = 3" in (tmp_path / "run" / "operative_config.gin").read_text()
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints")).endswith("ckpt-3")
    assert list((tmp_path / "run" / "train").glob("events.out.tfevents.*"))
    out = _run(_cmd("evaluate", tmp_path / "run"), env)
    assert "top-1" in out and (tmp_path / "run" / "eval.json").exists()


def test_bad_gin_file_gives_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "bin" / "train"), "--gin_file=nope.gin",
                          f"--model_dir={tmp_path}"], env=_env(tmp_path), capture_output=True, text=True)
    assert out.returncode != 0 and "gin file 'nope.gin' not found" in out.stderr


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    env = _env(tmp_path)
    steps = ["run.train_steps = 40", "run.checkpoint_every = 5", "run.evaluate = False"]
    _run(_cmd("train", tmp_path / "full", *steps), env)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd("train", killed, *steps), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        ckpt = tf.train.latest_checkpoint(str(killed / "checkpoints")) if (killed / "checkpoints").exists() else None
        if ckpt and int(ckpt.rsplit("-", 1)[1]) >= 10:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be killed (machine too fast for this timing)")
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists()
    out = _run(_cmd("train", killed, *steps), env)
    assert "resumed from" in out or "trained 40 steps (resumed from step" in out
    a, b = _variables(tmp_path / "full"), _variables(killed)
    assert a.keys() == b.keys() and len(a) > 5
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_neural_training_quickstart_end_to_end(tmp_path):
    """bin/train with gin/neural_train_quickstart.gin (shrunk): starts from a bin/train checkpoint, logs the
    frozen/trained table, writes the before/after report, and bin/evaluate reads the result."""
    env = _env(tmp_path)
    _run(_cmd("train", tmp_path / "start", "run.train_steps = 2", "run.evaluate = False"), env)
    neural = ["build_model.times = 10", "neural_task.region_layers = {'V4': 'conv1', 'IT': 'conv2'}",
              f"neural_task.init_checkpoint = '{tmp_path / 'start'}'", "neural_task.bins = (70, 100)",
              "simulate_recording.images_per_object = 2", "simulate_recording.n_v4 = 6", "simulate_recording.n_it = 6",
              "simulate_recording.n_reps = 2", "run.train_steps = 2", "run.eval_steps = 1",
              "neural_task.report = {'decoder_train_batches': 1, 'n_splits': 2, 'ceiling_splits': 2}"]
    cmd = _cmd("train", tmp_path / "neural", *neural)
    cmd[2] = "--gin_file=neural_train_quickstart.gin"
    out = _run(cmd, env)
    assert "neural training starts from convrnn_tf checkpoint" in out
    assert "trained scalars:" in out and "frozen" in out and "batch correlation r" in out
    report = tmp_path / "neural" / "neural_report"
    for f in ("predictivity.csv", "predictivity.txt", "predictivity_IT.png", "categorization.csv", "categorization.png"):
        assert (report / f).exists(), f
    import json

    summary = json.loads((tmp_path / "neural" / "summary.json").read_text())
    assert set(summary["eval"]["predictivity"]) == {"V4", "IT"}
    assert {row["model"] for row in summary["eval"]["categorization"]} == {"before", "after"}
    out = _run(_cmd("evaluate", tmp_path / "neural", "build_model.times = 10"), env)
    assert "top-1" in out
