"""The tensorflow-datasets builder prepares offline into a temporary data_dir and reads back the images."""

import socket

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from convrnn_tf.data import embedded as E  # noqa: E402
from convrnn_tf.data import hvm_like_tfds  # noqa: E402

CFG = dict(seed=7, image_size=16, images_per_object=1)


def _no_network(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args!r}")


def test_builder_prepares_offline_and_reads_back(tmp_path, monkeypatch):
    tfds.disable_progress_bar()
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    builder = E.tfds_builder(data_dir=tmp_path, **CFG)
    assert builder.name == "convrnn_hvm_like"
    assert tfds.builder_cls("convrnn_hvm_like") is hvm_like_tfds.ConvrnnHvmLike
    builder.download_and_prepare()
    monkeypatch.undo()

    images, meta = E.generate(**CFG)
    row = {image_id: i for i, image_id in enumerate(meta["image_id"])}
    seen = set()
    for split in E.SPLITS:
        assert builder.info.splits[split].num_examples == (meta["split"] == split).sum()
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            m = ex["metadata"]
            i = row[m["image_id"].decode()]
            np.testing.assert_array_equal(ex["image"], images[i])
            assert ex["image"].dtype == np.uint8
            assert ex["label"] == meta["category_label"][i] == m["category_label"]
            assert m["split"].decode() == split and m["variation"].decode() == meta["variation"][i]
            assert bool(m["challenge"]) == meta["challenge"][i]
            assert np.isclose(m["rot_z"], meta["rot_z"][i])
            seen.add(i)
    assert len(seen) == len(images)
    assert builder.info.features["label"].names == list(E.CATEGORY_NAMES)

    # a second builder on the same data_dir reuses the prepared data
    again = hvm_like_tfds.builder(data_dir=tmp_path, **CFG)
    assert again.builder_config.name == builder.builder_config.name
    assert again.info.splits["train"].num_examples == builder.info.splits["train"].num_examples


def test_builder_presets_and_bad_arguments(tmp_path):
    assert hvm_like_tfds.builder(data_dir=tmp_path).builder_config.name == "px64"
    assert hvm_like_tfds.builder(data_dir=tmp_path, image_size=128).builder_config.name == "px128"
    with pytest.raises(ValueError, match="image_size"):
        hvm_like_tfds.builder(data_dir=tmp_path, image_size=4)
    with pytest.raises(ValueError, match="images_per_object"):
        hvm_like_tfds.builder(data_dir=tmp_path, images_per_object=-2)
