"""Input pipelines: image folders, preprocessing and normalisation, missing datasets."""

import numpy as np
import pytest
import tensorflow as tf

from convrnn_tf.data import pipelines


def _folder(tmp_path):
    rng = np.random.default_rng(0)
    for c, cls in enumerate(["cats", "dogs"]):
        (tmp_path / cls).mkdir()
        for i in range(3):
            img = np.full((20 + i, 30, 3), 40 * (c + 1), np.uint8) + rng.integers(0, 5, (20 + i, 30, 3), dtype=np.uint8)
            tf.io.write_file(str(tmp_path / cls / f"{i}.png"), tf.io.encode_png(img))
    return tmp_path


def test_folder_dataset_labels_and_normalisation(tmp_path):
    ds = pipelines.folder_dataset(str(_folder(tmp_path)), 6, training=False, image_size=16)
    x, y = next(iter(ds))
    assert x.shape == (6, 16, 16, 3) and sorted(y.numpy().tolist()) == [0, 0, 0, 1, 1, 1]
    # Centre crop of a near-constant image: the ImageNet normalisation of its value.
    want = (40 / 255 - np.array(pipelines.IMAGENET_MEAN)) / np.array(pipelines.IMAGENET_STD)
    np.testing.assert_allclose(x.numpy()[y.numpy() == 0].mean(axis=(0, 1, 2)), want, atol=0.05)
    train = pipelines.folder_dataset(str(tmp_path), 4, training=True, image_size=16)
    a = [b[1].numpy().tolist() for b in train.take(3)]
    b = [b[1].numpy().tolist() for b in pipelines.folder_dataset(str(tmp_path), 4, training=True,
                                                                  image_size=16).take(3)]
    assert a == b  # deterministic order and augmentation for a fixed seed


def test_missing_inputs_say_how_to_provide_them(tmp_path):
    with pytest.raises(pipelines.DatasetNotFoundError, match="does not exist"):
        pipelines.folder_dataset(str(tmp_path / "nope"), 2, training=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(pipelines.DatasetNotFoundError, match="no class sub-folders with images"):
        pipelines.folder_dataset(str(tmp_path / "empty"), 2, training=False)
    with pytest.raises(pipelines.DatasetNotFoundError, match="not prepared .* nothing is downloaded"):
        pipelines.tfds_dataset("mnist", "train", 2, training=False, data_dir=str(tmp_path))


def test_train_preprocess_is_seeded():
    img = tf.constant(np.random.default_rng(0).integers(0, 255, (40, 50, 3)), tf.uint8)
    a = pipelines.train_preprocess(img, 24, tf.constant([1, 2], tf.int64))
    b = pipelines.train_preprocess(img, 24, tf.constant([1, 2], tf.int64))
    c = pipelines.train_preprocess(img, 24, tf.constant([1, 3], tf.int64))
    assert a.shape == (24, 24, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
