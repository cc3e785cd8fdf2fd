"""Feature extraction (convrnn_tf.features) and bin/extract_features.

References are computed independently: ImageNet normalisation and the align-corners resize in
NumPy from their definitions (doc 7.1, pitfall 2), features by one whole-set ``model.unroll``.
Most tests use a tiny 6-node zoo-like chain (16x16 input) so they stay fast; one runs the real
``timedecay_shallow`` through the flags.
"""

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

from convrnn_tf import features, zoo
from convrnn_tf.cli import extract_features as cli
from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from tests import numpy_reference as nref

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def tiny(**kwargs):
    kwargs.setdefault("presentation", "constant")
    kwargs.setdefault("times", 3) if kwargs["presentation"] == "constant" else None
    return ConvRNN(builders.chain(6, input_shape=(16, 16, 3), base_depth=4, classes=5), **kwargs)


def reference(model, images01, layers, steps=None):
    """Whole-set unroll of NumPy-normalised float 0-1 images."""
    x = ((np.asarray(images01, np.float64) - MEAN) / STD).astype(np.float32)
    out = model.unroll(x, outputs=layers, steps=steps)
    return {k: np.asarray(v) for k, v in out.items()}


def write_images(folder, rng, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, (h, w) in sizes.items():
        arrays[name] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arrays[name]).save(folder / name)
    return arrays


# --------------------------------------------------------------------------------- library
def test_normalize_images_as_the_original_per_image():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    np.testing.assert_allclose(features.normalize_images(u8), (u8 / 255 - MEAN) / STD, rtol=1e-5, atol=1e-6)
    mixed = np.stack([u8[0].astype(np.float32), u8[1] / 255.0]).astype(np.float32)  # 0-255 and 0-1
    mixed[1, 0, 0] = 1.0
    np.testing.assert_allclose(features.normalize_images(mixed), (np.stack([u8[0] / 255, mixed[1]]) - MEAN) / STD,
                               rtol=1e-5, atol=1e-6)
    gray = features.normalize_images(u8[..., :1])
    np.testing.assert_allclose(gray[..., 2], (u8[..., 0] / 255 - MEAN[2]) / STD[2], rtol=1e-5, atol=1e-6)
    with pytest.raises(features.ImageError, match="image 1 has values in"):
        features.normalize_images(np.stack([u8[0] / 255, -u8[1] / 255.0 - 0.1]))
    with pytest.raises(features.ImageError, match=r"expected RGB images \[N, H, W, 3\]"):
        features.normalize_images(np.zeros((2, 4, 4, 5)))


def test_extract_streams_batches_equal_to_one_unroll(tmp_path):
    model = tiny(times=4)
    images = np.random.default_rng(1).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    want = reference(model, images / 255.0, ["conv2", "readout"])
    for batch in (2, 8):  # several batches with a padded last one; one padded batch
        got = features.extract(model, images, ["conv2", "readout"], batch_size=batch)
        assert got.ids == ["0", "1", "2", "3", "4"]
        for k in want:
            assert got[k].shape == want[k].shape == (5, 4) + model.spec.shapes[k].output
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5)
    on_disk = features.extract(model, iter(list(images)), ["conv2"], batch_size=2, steps=[1, 3],
                               out_dir=tmp_path / "f", progress=True)
    assert isinstance(on_disk["conv2"], np.memmap) and (tmp_path / "f" / "conv2.f32").is_file()
    np.testing.assert_allclose(on_disk["conv2"], want["conv2"][:, [1, 3]], rtol=1e-5, atol=1e-5)
    logits = features.extract(model, images, ["logits"], batch_size=3)["logits"]
    np.testing.assert_allclose(logits[:, 0], np.asarray(model(((images / 255 - MEAN) / STD).astype("float32"))),
                               rtol=1e-5, atol=1e-5)
    assert list(features.extract(model, images[:2], None, batch_size=2)) == ["readout"]  # default: output node


def test_any_size_is_resized_like_the_harbor(tmp_path):
    """8x8 and 24x20 images give the features of their NumPy align-corners resize to 16x16."""
    model = tiny()
    rng = np.random.default_rng(2)
    small = rng.uniform(0, 1, (3, 8, 8, 3)).astype(np.float32)
    want = reference(model, nref.resize_bilinear_align_corners(small.astype(np.float64), 16, 16), ["conv1"])
    np.testing.assert_allclose(features.extract(model, small, ["conv1"], batch_size=2)["conv1"], want["conv1"],
                               rtol=1e-4, atol=1e-4)
    arrays = write_images(tmp_path / "imgs", rng, {"b.png": (24, 20), "a.png": (16, 16), "sub/c.png": (8, 8)})
    source = features.open_images(tmp_path / "imgs", size=(16, 16))
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    assert len(source) == 3
    got = features.extract(model, features.open_images(tmp_path / "imgs", size=(16, 16)), ["conv1"], batch_size=2)
    assert got.ids == ["a.png", "b.png", "sub/c.png"]
    pixels = np.concatenate([nref.resize_bilinear_align_corners(arrays[k][None] / 255.0, 16, 16) for k in got.ids])
    np.testing.assert_allclose(got["conv1"], reference(model, pixels, ["conv1"])["conv1"], rtol=1e-4, atol=1e-4)


def test_bad_inputs_are_named(tmp_path):
    model = tiny()
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['conv9'\].*conv1, conv2"):
        features.extract(model, np.zeros((1, 16, 16, 3), np.uint8), ["conv9"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(features.ImageError, match="empty: no images"):
        features.open_images(tmp_path / "empty")
    write_images(tmp_path / "bad", np.random.default_rng(0), {"ok.png": (16, 16)})
    (tmp_path / "bad" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(features.ImageError, match="broken.png: cannot read as an image"):
        features.extract(model, features.open_images(tmp_path / "bad", size=(16, 16)), ["conv1"])
    with pytest.raises(features.ImageError, match="nowhere.npy: does not exist"):
        features.open_images(tmp_path / "nowhere.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 4, 4, 3)), b=np.zeros(2))
    with pytest.raises(features.ImageError, match="two.npz: holds .*'images'"):
        features.open_images(tmp_path / "two.npz")
    np.save(tmp_path / "flat.npy", np.zeros((4, 5)))
    with pytest.raises(features.ImageError, match=r"flat.npy: expected images \[N, H, W, 3\]"):
        features.open_images(tmp_path / "flat.npy")
    with pytest.raises(features.ImageError, match="tfds:nosuchdataset_xyz/test: unknown"):
        features.open_images("tfds:nosuchdataset_xyz/test")
    with pytest.raises(ValueError, match="steps must be within 0..2"):
        features.extract(model, np.zeros((1, 16, 16, 3), np.uint8), ["conv1"], steps=[3])


def test_tfds_split_prepared_locally(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)

    class TinyStimuliForExtraction(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return self.dataset_info_from_configs(features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(12, 12, 3)), "image_id": tfds.features.Text()}))

        def _split_generators(self, dl_manager):
            return {"test": self._generate_examples()}

        def _generate_examples(self):
            for i, image in enumerate(images):
                yield i, {"image": image, "image_id": f"stim{i}"}

    name = "tiny_stimuli_for_extraction"
    with pytest.raises(features.ImageError, match="not prepared .*nothing is downloaded"):
        features.open_images(f"tfds:{name}/test", tfds_data_dir=str(tmp_path))
    TinyStimuliForExtraction(data_dir=str(tmp_path)).download_and_prepare()
    model = tiny()
    got = features.extract(model, features.open_images(f"tfds:{name}/test", (16, 16), str(tmp_path)), ["conv1"],
                           batch_size=2)
    assert sorted(got.ids) == ["stim0", "stim1", "stim2"]
    order = [int(i[4:]) for i in got.ids]
    pixels = nref.resize_bilinear_align_corners(images[order] / 255.0, 16, 16)
    np.testing.assert_allclose(got["conv1"], reference(model, pixels, ["conv1"])["conv1"], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------- CLI
def test_presentation_rules_of_the_original():
    assert cli.presentation("default") == {"presentation": "default"}
    assert cli.presentation("neural") == {"presentation": "neural"}
    assert cli.presentation("constant", 5) == {"presentation": "constant", "times": 5}
    assert cli.presentation("default", 20, 8) == {"presentation": "movie", "times": 20, "image_off": 8}
    for args, match in ((("constant",), "needs --times"), (("constant", 4, 2), "meaningless"),
                        (("default", None, 3), "needs --times"), (("default", 20), "fixes the steps")):
        with pytest.raises(ValueError, match=match):
            cli.presentation(*args)


@pytest.fixture
def tiny_zoo(monkeypatch):
    """zoo.build returns the tiny chain (with the requested presentation); the models are kept."""
    built = []

    def build(name, **kwargs):
        built.append(tiny(**kwargs))
        return built[-1]

    monkeypatch.setattr(zoo, "build", build)
    return built


def test_run_extraction_writes_npz_and_netcdf(tmp_path, tiny_zoo):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    rng = np.random.default_rng(4)
    arrays = write_images(tmp_path / "imgs", rng, {"x.png": (16, 16), "y.png": (16, 16), "z.png": (16, 16)})
    pixels = np.stack([arrays[k] for k in ("x.png", "y.png", "z.png")]) / 255.0
    out = tmp_path / "f.nc"
    shapes = cli.run_extraction("rgc_shallow", tmp_path / "imgs", out, "conv3,readout", "neural", batch_size=2,
                                log=lambda *a: None)
    model = tiny_zoo[-1]
    assert model.times == 26 and model.presentation.image_off == 10
    want = reference(model, pixels, ["conv3", "readout"])
    assert shapes == {k: v.shape for k, v in want.items()}
    for layer in ("conv3", "readout"):
        da = xr.open_dataarray(out, group=layer)
        assert da.dims == ("presentation", "neuroid", "time_bin") and da.name == layer
        assert list(da.stimulus_id.values) == ["x.png", "y.png", "z.png"]
        assert list(da.time_bin.values) == list(range(26)) and str(da.layer.values) == layer
        np.testing.assert_allclose(da.time_bin_end - da.time_bin_start, 10.0)
        flat = want[layer].reshape(3, 26, -1).transpose(0, 2, 1)
        np.testing.assert_allclose(da.values, flat, rtol=1e-5, atol=1e-5)
        assert da.neuroid_id.values[1] == f"{layer}.1"
    assert not list(tmp_path.glob(".extract_*")) and not (tmp_path / "f.nc.partial").exists()

    npz = tmp_path / "f.npz"
    np.save(tmp_path / "imgs.npy", (pixels * 255).round().astype(np.uint8))
    cli.run_extraction("rgc_shallow", tmp_path / "imgs.npy", npz, "", "constant", times=2, steps="0,1",
                       log=lambda *a: None)
    data = np.load(npz)
    assert list(data["stimulus_id"]) == ["0", "1", "2"] and list(data["time_step"]) == [0, 1]
    np.testing.assert_allclose(data["readout"], reference(tiny_zoo[-1], pixels, ["readout"])["readout"],
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="exists; pass --overwrite"):
        cli.run_extraction("rgc_shallow", tmp_path / "imgs.npy", npz, "", "constant", times=2)
    with pytest.raises(ValueError, match="must end in .npz or .nc"):
        cli.run_extraction("rgc_shallow", tmp_path / "imgs.npy", tmp_path / "f.csv")
    with pytest.raises(ValueError, match="--steps 'a,b'"):
        cli.run_extraction("rgc_shallow", tmp_path / "imgs.npy", tmp_path / "g.npz", steps="a,b")


def _run_main(argv):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["extract_features"] + argv)
    try:
        cli.main(["extract_features"])
    finally:
        flags.FLAGS.unparse_flags()


def test_binary_on_timedecay_shallow_with_a_checkpoint(tmp_path):
    """The real zoo model through the flags, with our weights file; features equal a direct unroll."""
    model = zoo.build("timedecay_shallow", presentation="constant", times=2)
    model.build()
    model.save_weights(str(tmp_path / "w.weights.h5"))
    images = np.random.default_rng(5).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "imgs.npy", images)
    out = tmp_path / "f.npz"
    _run_main(["--model=timedecay_shallow", f"--images={tmp_path / 'imgs.npy'}", "--image_pres=constant",
               "--times=2", "--layers=conv5,imnetds", f"--checkpoint={tmp_path / 'w.weights.h5'}",
               "--batch_size=2", f"--output={out}", "--noprogress"])
    data = np.load(out)
    want = reference(model, images / 255.0, ["conv5", "imnetds"])
    assert data["imnetds"].shape == (2, 2, 1000) and data["conv5"].shape == (2, 2, 4, 4, 512)
    for k in want:
        np.testing.assert_allclose(data[k], want[k], rtol=1e-4, atol=1e-4)
    with pytest.raises(SystemExit, match="error: unknown zoo model 'timedecay_shalow'.*did you mean"):
        _run_main(["--model=timedecay_shalow", f"--images={tmp_path}", f"--output={tmp_path / 'g.npz'}"])
    with pytest.raises(SystemExit, match="error: .*nope: does not exist"):
        _run_main(["--model=timedecay_shallow", f"--images={tmp_path / 'nope'}", f"--output={tmp_path / 'g.npz'}"])
    assert tf.io.gfile.exists(str(out))
