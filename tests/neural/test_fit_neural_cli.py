"""bin/fit_neural end to end on a tiny simulated recording, and its errors."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from convrnn_tf.neural.pipeline import read_features, run_fit
from convrnn_tf.neural import save_assembly
from convrnn_tf.neural.simulate import simulate_recording

from tests.neural.test_simulate import small_stimuli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fitneural")
    images, meta = small_stimuli(n_cat=4, per_cat=24)
    sim = simulate_recording(images, meta, seed=2, n_v4=8, n_it=10, n_reps=4)
    neural = d / "neural.nc"
    save_assembly(sim.assembly, neural)
    rec = d / "recurrent.npz"
    np.savez(rec, IT=sim.latents["IT"], V4=sim.latents["V4"], stimulus_id=sim.stimulus_id,
             time_step=np.arange(26))
    ff = d / "feedforward.npz"
    np.savez(ff, IT=sim.latents["IT_feedforward"], stimulus_id=sim.stimulus_id)
    bad = d / "bad_ids.npz"
    np.savez(bad, IT=sim.latents["IT"], stimulus_id=np.array([f"x{i}" for i in range(len(sim.stimulus_id))]))
    return d, neural, rec, ff, bad


def test_cli_end_to_end(files):
    d, neural, rec, ff, _ = files
    out = d / "out"
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "fit_neural"), f"--features={rec}", f"--features={ff}",
         f"--neural={neural}", "--region=IT,V4", "--layers=IT", f"--output={out}", "--n_splits=2",
         "--n_components=5"], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "best layer per region" in proc.stdout
    for name in ("results.nc", "results.csv", "table.txt", "predictivity_IT.png", "predictivity_V4.png",
                 "model_comparison.png"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "results.csv", comment="#")
    assert set(table["model"]) == {"recurrent", "feedforward"} and set(table["region"]) == {"IT", "V4"}
    assert len(table) == 2 * 2 * 19 and {"score", "ceiling", "ceiled"} <= set(table.columns)
    import xarray as xr

    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert ds["score"].shape == (4, 19)
    # a missing file exits with one line
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "fit_neural"), f"--features={d}/nope.npz",
                           f"--neural={neural}", f"--output={out}"], capture_output=True, text=True, env=env,
                          timeout=180)
    assert proc.returncode != 0 and "error: features file not found" in proc.stderr


def test_errors(files, tmp_path):
    d, neural, rec, ff, bad = files
    kw = dict(output=str(tmp_path), n_splits=2, n_components=5, log=lambda *a: None)
    with pytest.raises(FileNotFoundError, match="neural data file not found"):
        run_fit([str(rec)], str(d / "missing.nc"), **kw)
    with pytest.raises(ValueError, match="unknown layer"):
        run_fit([str(rec)], str(neural), layers="conv9", **kw)
    with pytest.raises(ValueError, match="unknown region"):
        run_fit([str(rec)], str(neural), regions="V1", **kw)
    with pytest.raises(ValueError, match="no model features"):
        run_fit([str(bad)], str(neural), **kw)
    with pytest.raises(ValueError, match="--stimuli is required"):
        run_fit(["rgc_intermediate"], str(neural), **kw)
    layers, ids, step0 = read_features(rec)
    assert set(layers) == {"IT", "V4"} and step0 == 0 and len(ids) == 96
