"""bin/decode_dynamics end to end (subprocess) and its one-line errors (convrnn_tf.analysis.run)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from convrnn_tf.analysis import run as dyn
from convrnn_tf.analysis.simulate import simulate_population

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "bin", "decode_dynamics")
DELAY, BIN_MS = 30.0, 10.0

TINY_GIN = """
decode_dynamics.label = "object"
decode_dynamics.flag = "hard"
decode_dynamics.n_splits = 3
decode_dynamics.n_boot = 50
decode_dynamics.consistency_niter = 2
"""


def write_tiny(tmp_path):
    sim = simulate_population(n_classes=4, images_per_class=16, n_neurons=30, onset=90.0, delay=DELAY,
                              time_bins=np.arange(0.0, 220.0, BIN_MS), seed=3)
    path = tmp_path / "resp.npz"
    np.savez(path, responses=sim.responses, time_bins=sim.time_bins, object=sim.labels,
             image_id=sim.stimulus_ids, hard=sim.challenge)
    gin = tmp_path / "tiny.gin"
    gin.write_text(TINY_GIN)
    return path, gin, sim


def cli(*args):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, BIN, *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_end_to_end_recovers_delay(tmp_path):
    resp, gin, sim = write_tiny(tmp_path)
    out = tmp_path / "out"
    proc = cli(f"--gin_file={gin}", f"--responses={resp}", f"--output={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "decode_dynamics:" in proc.stdout and "OST median" in proc.stdout
    for name in ("results.json", "curves.csv", "ost.csv", "accuracy.png", "ost_groups.png"):
        assert (out / name).stat().st_size > 0, name
    res = json.loads((out / "results.json").read_text())
    (entry,) = res["sources"].values()
    g = entry["groups"]
    assert g["names"] == ["control", "challenge"]
    assert abs(g["ost_difference"] - DELAY) <= BIN_MS
    assert abs(g["latency_difference"] - DELAY) <= BIN_MS
    assert abs(entry["latency"] - 90.0) <= 2 * BIN_MS
    assert abs(entry["shuffled_mean_accuracy"] - 0.25) < 0.1


def test_cli_missing_file_one_line(tmp_path):
    proc = cli(f"--responses={tmp_path / 'nope.npz'}", f"--output={tmp_path / 'o'}")
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert lines == [f"error: responses file {str(tmp_path / 'nope.npz')!r} does not exist"]


def _message(excinfo):
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_absent_flag_column(tmp_path):
    resp, _, _ = write_tiny(tmp_path)
    with pytest.raises(ValueError) as e:
        dyn.decode_dynamics(str(resp), output=str(tmp_path / "o"), label="object", flag="occluded",
                            n_splits=3, n_boot=10, plots=False)
    assert "flag column 'occluded' not found" in _message(e) and "hard" in _message(e)


def test_missing_time_bins(tmp_path):
    resp, _, _ = write_tiny(tmp_path)
    with pytest.raises(ValueError) as e:
        dyn.decode_dynamics(str(resp), output=str(tmp_path / "o"), label="object", flag="hard",
                            time_bins="200:260:10", n_splits=3, n_boot=10, plots=False)
    assert "time bins [220, 230, 240, 250] missing" in _message(e)


def test_absent_label_column_and_no_time_bins_key(tmp_path):
    sim = simulate_population(n_classes=3, images_per_class=6, n_neurons=5, time_bins=np.arange(0, 50, 10.0))
    path = tmp_path / "r.npz"
    np.savez(path, responses=sim.responses, object=sim.labels)
    with pytest.raises(ValueError) as e:
        dyn.decode_dynamics(str(path), output=str(tmp_path / "o"), label="category_name", plots=False)
    assert "label column 'category_name' not found" in _message(e)
    with pytest.raises(ValueError) as e:
        dyn.decode_dynamics(str(path), output=str(tmp_path / "o"), label="object", flag=None,
                            time_bins="kar2019", n_splits=3, plots=False)
    assert "missing from the responses" in _message(e)
