"""bin/fit_neural with models extracted on the fly (convrnn_tf.neural.pipeline), and decode_dynamics on NetCDF.

References are independent of the pipeline: features by one whole-set ``model.unroll`` of NumPy-normalised
images, scores by `convrnn_tf.neural.fit_neural` on those features. A tiny chain convRNN (16x16 input) and a
simulated recording with four 10 ms bins (70-110 ms, so 11 model steps) keep every fit to a fraction of a second.
"""

import os
import subprocess
import sys

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from convrnn_tf import configurables, zoo
from convrnn_tf.cli import common
from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.neural import NeuralDataError, TimeMapping, fit_neural, save_assembly
from convrnn_tf.neural.pipeline import default_layers, model_features, run_fit
from convrnn_tf.neural.simulate import simulate_recording
from tests.neural.test_simulate import small_stimuli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
FIT = dict(n_splits=2, n_components=5, ceiling_splits=2, log=lambda *a: None)


def spec(base_depth=4):
    return builders.chain(depth=4, input_shape=(16, 16, 3), base_depth=base_depth, classes=8, cell="gru")


def make(times=12, base_depth=4, **kwargs):
    """The same weights on every call (seeded and built here), so instances and factories can be compared."""
    keras.utils.set_random_seed(5)
    model = ConvRNN(spec(base_depth), times=times, **kwargs)
    model.build()
    return model


def reference(model, images, layers):
    x = ((np.asarray(images, np.float64) / 255 - MEAN) / STD).astype(np.float32)
    return {k: np.asarray(v) for k, v in model.unroll(x, outputs=layers).items()}


def scores(summary, model, layer, region="IT"):
    s = summary[(summary["model"] == model) & (summary["layer"] == layer) & (summary["region"] == region)]
    return s[s["time_bin_kind"] == "bin"]["score"].to_numpy(float)


def reference_scores(features, data, region="IT"):
    ds = fit_neural(features, data["sim"].assembly, stimulus_ids=data["sim"].stimulus_id, time_mapping=TimeMapping(),
                    n_splits=2, n_components=5, ceiling_splits=2, region=region)
    return ds["score"].values


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("models_pipeline")
    images, meta = small_stimuli(n_cat=4, per_cat=16, size=16)
    sim = simulate_recording(images, meta, seed=2, n_v4=6, n_it=6, n_reps=4, bin_end_ms=110.0)
    save_assembly(sim.assembly, d / "neural.nc")
    np.savez(d / "stimuli.npz", images=images, stimulus_id=sim.stimulus_id)
    (d / "png").mkdir()
    for image, name in zip(images, sim.stimulus_id):
        Image.fromarray(image).save(d / "png" / f"{name}.png")
    perturbed = make()
    rng = np.random.default_rng(1)
    for v in perturbed.trainable_variables:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    ckpt = tf.train.Checkpoint(model=perturbed).write(str(d / "ckpt" / "weights"))
    other = make(base_depth=8)
    bad = tf.train.Checkpoint(model=other).write(str(d / "bad" / "weights"))
    return dict(dir=d, images=images, sim=sim, neural=str(d / "neural.nc"), npz=str(d / "stimuli.npz"),
                png=str(d / "png"), ckpt=ckpt, bad=bad, perturbed=perturbed)


def test_default_layers_are_the_feature_maps():
    assert default_layers(make()) == ["conv1", "conv2", "conv3"]  # not the readout (logits)


def test_model_features_equal_an_independent_unroll(data):
    feats, ids = model_features(make(), "m", ["conv2", "conv3"], stimuli=data["npz"], stimulus_ids=[])
    ref = reference(make(), data["images"], ["conv2", "conv3"])
    assert ids == list(data["sim"].stimulus_id) and set(feats) == {"conv2", "conv3"}
    for k in ref:
        assert feats[k].shape == (64, 12) + ref[k].shape[2:]
        np.testing.assert_allclose(feats[k], ref[k], rtol=1e-5, atol=1e-5)
    restored, _ = model_features(make(), "m", ["conv3"], stimuli=data["npz"], checkpoint=data["ckpt"], log=print)
    np.testing.assert_allclose(restored["conv3"], reference(data["perturbed"], data["images"], ["conv3"])["conv3"],
                               rtol=1e-5, atol=1e-5)
    assert np.abs(restored["conv3"] - ref["conv3"]).max() > 1e-2


def test_instance_factory_and_checkpoint(data, tmp_path):
    lines = []
    summary = run_fit([], data["neural"], output=str(tmp_path), stimuli=data["npz"],
                      models={"instance": make(), "factory": make, "restored": make},
                      checkpoints={"restored": data["ckpt"]}, **{**FIT, "log": lines.append})
    assert list(dict.fromkeys(summary["model"])) == ["instance", "factory", "restored"]
    for model in ("instance", "factory", "restored"):
        part = summary[(summary["model"] == model) & (summary["time_bin_kind"] == "bin")]
        assert list(dict.fromkeys(part["layer"])) == ["conv1", "conv2", "conv3"]
        assert set(part["region"]) == {"IT", "V4"} and len(part) == 3 * 2 * 4
    ref = reference(make(), data["images"], ["conv3"])["conv3"]
    np.testing.assert_allclose(scores(summary, "instance", "conv3"), reference_scores(ref, data), atol=1e-6)
    np.testing.assert_allclose(scores(summary, "factory", "conv3"), scores(summary, "instance", "conv3"), atol=0)
    pert = reference(data["perturbed"], data["images"], ["conv3"])["conv3"]
    np.testing.assert_allclose(scores(summary, "restored", "conv3"), reference_scores(pert, data), atol=1e-6)
    assert np.abs(scores(summary, "restored", "conv3") - scores(summary, "instance", "conv3")).max() > 1e-3
    assert any(line.startswith("restored: loaded convrnn_tf checkpoint") for line in lines)
    for name in ("results.nc", "results.csv", "table.txt", "model_comparison.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "per model: best layer" in (tmp_path / "table.txt").read_text()


def test_zoo_name_glue(data, tmp_path, monkeypatch):
    calls = []

    def fake_build(name, **kwargs):  # a real zoo model at 224x224 would take minutes here
        calls.append((name, kwargs))
        return make(times=None, name=name, **kwargs)

    monkeypatch.setattr(zoo, "build", fake_build)
    lines = []
    summary = run_fit(["timedecay_shallow"], data["neural"], output=str(tmp_path / "a"), stimuli=data["png"],
                      checkpoint=data["ckpt"], regions="IT", **{**FIT, "log": lines.append})
    assert calls == [("timedecay_shallow", {"presentation": "neural"})]  # 26 steps, image off at step 10
    assert set(summary["model"]) == {"timedecay_shallow"}
    assert list(dict.fromkeys(summary["layer"])) == ["conv1", "conv2", "conv3"]
    assert any("loaded convrnn_tf checkpoint" in line for line in lines)
    # the PNG ids ("im000.png") matched the recording's ("im000"); the same model on the .npz scores the same
    same = run_fit([], data["neural"], output=str(tmp_path / "b"), stimuli=data["npz"], regions="IT",
                   models={"timedecay_shallow": lambda: fake_build("x", presentation="neural")},
                   checkpoints={"timedecay_shallow": data["ckpt"]}, **FIT)
    np.testing.assert_allclose(scores(summary, "timedecay_shallow", "conv3"),
                               scores(same, "timedecay_shallow", "conv3"), atol=1e-6)
    with pytest.raises(ValueError, match=r"unknown zoo model 'rgc_intermedate' \(did you mean 'rgc_intermediate'"):
        run_fit(["rgc_intermedate"], data["neural"], output=str(tmp_path), stimuli=data["png"], **FIT)
    with pytest.raises(ValueError, match=r"model 'timedecay_shallow': --stimuli is required"):
        run_fit(["timedecay_shallow"], data["neural"], output=str(tmp_path), **FIT)


def one_line(excinfo):
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_bad_inputs(data, tmp_path):
    kw = dict(output=str(tmp_path), stimuli=data["npz"], **FIT)
    with pytest.raises(zoo.CheckpointError) as e:
        run_fit([], data["neural"], models={"convrnn": make}, checkpoints={"convrnn": data["bad"]}, **kw)
    assert one_line(e).startswith(f"model 'convrnn': checkpoint {data['bad']}: does not match model")
    # checked before the first source (a missing features file here) is read
    first = [str(tmp_path / "missing.npz")]
    with pytest.raises(zoo.CheckpointError, match="model .convrnn.: checkpoint .*nope: does not exist"):
        run_fit(first, data["neural"], models={"convrnn": make}, checkpoints={"convrnn": str(tmp_path / "nope")},
                **kw)
    with pytest.raises(NeuralDataError) as e:
        run_fit(first, data["neural"], models={"short": make(times=10)}, **kw)
    assert "model 'short': time bin 100-110 ms" in one_line(e) and "times >= 11 steps (it has 10)" in one_line(e)
    with pytest.raises(ValueError, match=r"models\['x'\]: expected a ConvRNN or a zero-argument callable"):
        run_fit([], data["neural"], models={"x": 3}, **kw)
    with pytest.raises(ValueError, match=r"models\['x'\]: its factory returned a str, not a ConvRNN"):
        run_fit([], data["neural"], models={"x": lambda: "conv"}, **kw)
    with pytest.raises(ValueError, match=r"checkpoints given for unknown model\(s\) \['y'\]"):
        run_fit([], data["neural"], models={"x": make}, checkpoints={"y": data["ckpt"]}, **kw)
    with pytest.raises(ValueError, match=r"model 'x': unknown layer\(s\) \['conv9'\]"):
        run_fit([], data["neural"], models={"x": make}, layers="conv9", **kw)
    with pytest.raises(ValueError, match=r"layers given for unknown source\(s\) \['y'\]"):
        run_fit([], data["neural"], models={"x": make}, layers={"y": ["conv1"]}, **kw)
    with pytest.raises(ValueError, match=r"source name\(s\) \['simulated'\] given twice"):
        run_fit(["simulated"], data["neural"], models={"simulated": make}, **kw)
    with pytest.raises(ValueError, match="--features is required"):
        run_fit([], data["neural"], **kw)


@pytest.fixture
def clean_gin():
    gin.clear_config()
    gin.add_config_file_search_path(common.gin_dir())
    yield
    gin.clear_config()


def test_quickstart_gin_small(clean_gin, tmp_path):
    gin.parse_config_file(os.path.join(common.gin_dir(), "neural_fit_quickstart.gin"))
    gin.bind_parameter("simulate_recording.image_size", 16)  # 384 images of 16x16 (two per object)
    gin.bind_parameter("chain_spec.input_shape", (16, 16, 3))
    gin.bind_parameter("fit_neural_run.layers", {"simulated": ["IT"], "convrnn": ["conv4"], "feedforward": ["conv4"]})
    summary = configurables.fit_neural_run(output=str(tmp_path), regions="IT", **FIT)
    assert list(dict.fromkeys(summary["model"])) == ["simulated", "convrnn", "feedforward"]
    assert len(summary[summary["time_bin_kind"] == "bin"]) == 3 * 19  # 70-260 ms, covered by 26 steps
    assert np.isfinite(summary["score"]).all()


def test_cli_too_few_steps_is_one_readable_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "bin", "fit_neural"),
                           "--gin_file=neural_fit_quickstart.gin", "--gin_bindings=build_model.times = 20",
                           f"--output={tmp_path}"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: model 'convrnn': time bin 200-210 ms"), proc.stderr[-800:]
    assert errors[0].endswith("unroll it for times >= 26 steps (it has 20)")


def test_decode_dynamics_reads_netcdf_as_npz(tmp_path):
    import xarray as xr

    from convrnn_tf.analysis import run as dyn
    from convrnn_tf.analysis.simulate import simulate_population

    sim = simulate_population(n_classes=4, images_per_class=12, n_neurons=20, onset=90.0, delay=30.0,
                              time_bins=np.arange(0.0, 200.0, 10.0), seed=3)
    region = np.array(["IT"] * 12 + ["V4"] * 8)
    np.savez(tmp_path / "r.npz", responses=sim.responses, time_bins=sim.time_bins, object=sim.labels,
             image_id=sim.stimulus_ids, hard=sim.challenge, region=region)
    xr.DataArray(sim.responses, dims=("presentation", "neuroid", "time_bin"), coords={
        "image_id": ("presentation", sim.stimulus_ids), "object": ("presentation", sim.labels),
        "hard": ("presentation", sim.challenge), "region": ("neuroid", region),
        "time_bin_start": ("time_bin", sim.time_bins), "time_bin_end": ("time_bin", sim.time_bins + 10.0)},
    ).to_netcdf(tmp_path / "r.nc", engine="h5netcdf")
    kw = dict(label="object", flag="hard", n_splits=3, n_boot=20, plots=False)
    from_nc = dyn.decode_dynamics(str(tmp_path / "r.nc"), output=str(tmp_path / "nc"), **kw)
    from_npz = dyn.decode_dynamics(str(tmp_path / "r.npz"), output=str(tmp_path / "npz"), **kw)
    assert list(from_nc["sources"]) == ["IT", "V4"]  # one source per 'region' neuroid coordinate
    assert from_nc["sources"]["IT"]["n_neuroids"] == 12 and from_nc["sources"]["IT"]["groups"]["n_images"] == [24, 24]
    assert from_nc["sources"] == from_npz["sources"]
    assert (tmp_path / "nc" / "curves.csv").read_text() == (tmp_path / "npz" / "curves.csv").read_text()
