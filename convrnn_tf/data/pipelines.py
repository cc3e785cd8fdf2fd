"""Input pipelines: ImageNet and other tfds image datasets, image folders; preprocessing.

Models take ImageNet-normalised images: ``(x / 255 - mean) / std`` per RGB channel, as the
original `run_model.py`. Nothing here downloads: a dataset that is not prepared locally raises
`DatasetNotFoundError` with instructions.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not available locally; the message says how to provide it."""


def normalize(images):
    """uint8 [0, 255] (or float [0, 1]) RGB -> ImageNet-normalised float32."""
    x = tf.cast(images, tf.float32)
    if images.dtype == tf.uint8:
        x = x / 255.0
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def train_preprocess(image, size, seed):
    """Random resized crop (8-100% of the area, aspect 3/4-4/3), random flip, normalise.

    ``seed`` is a shape-[2] int tensor: stateless ops keep the pipeline checkpointable and
    deterministic (`_finish` derives it from the run seed and the element's position).
    """
    shape = tf.shape(image)
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed, min_object_covered=0.1,
        aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0), max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, extent)
    image = tf.image.resize(image, (size, size), method="bilinear")
    image = tf.image.stateless_random_flip_left_right(image, seed=seed + 1)
    return normalize(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8))


def eval_preprocess(image, size, crop_fraction=0.875):
    """Resize the shorter side to ``size / crop_fraction``, centre-crop ``size``, normalise."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = (size / crop_fraction) / tf.reduce_min(shape)
    new = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(image, new, method="bilinear")
    image = tf.image.resize_with_crop_or_pad(image, size, size)
    return normalize(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8))


def _finish(ds, batch_size, training, preprocess, seed, deterministic, shuffle_buffer):
    """Shuffle and repeat (training), preprocess in parallel, batch, prefetch.

    ``preprocess(x, y, element_seed)``: each element gets the stateless seed ``[seed, position]``
    so augmentation is reproducible and the iterator can be checkpointed mid-epoch.
    """
    options = tf.data.Options()
    options.deterministic = deterministic
    ds = ds.with_options(options)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed).repeat()
    ds = ds.enumerate().map(lambda i, xy: preprocess(xy[0], xy[1], tf.stack([tf.cast(seed, tf.int64), i])),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def tfds_dataset(name, split, batch_size, *, training, image_size=224, data_dir=None, seed=0,
                 deterministic=True, shuffle_buffer=10_000, input_context=None):
    """A prepared tensorflow-datasets image classification dataset as ``(image, label)`` batches.

    ``imagenet2012`` needs the manual download: put ``ILSVRC2012_img_train.tar`` and
    ``ILSVRC2012_img_val.tar`` in a folder and run ``convrnn_tf.data.prepare_tfds("imagenet2012",
    manual_dir=..., data_dir=...)`` once.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as err:
        raise DatasetNotFoundError(f"unknown tensorflow-datasets name {name!r}: {err}") from None
    if not tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        raise DatasetNotFoundError(
            f"dataset {name!r} is not prepared under {builder.data_dir!r} and nothing is downloaded here. "
            f"Prepare it once with convrnn_tf.data.prepare_tfds({name!r}, manual_dir=<folder with the "
            f"downloaded archives>, data_dir={data_dir or '~/tensorflow_datasets'!r}) "
            "(for imagenet2012: the ILSVRC2012 train/val tars), or pass data_dir= where it is prepared."
        )
    read_config = tfds.ReadConfig(shuffle_seed=seed, input_context=input_context,
                                  interleave_cycle_length=16 if not deterministic else 1)
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=training, read_config=read_config)
    pre = (lambda x, y, s: (train_preprocess(x, image_size, s), y)) if training else \
          (lambda x, y, s: (eval_preprocess(x, image_size), y))
    return _finish(ds, batch_size, training, pre, seed, deterministic, shuffle_buffer)


def prepare_tfds(name, manual_dir, data_dir=None):
    """Prepare a manual-download tfds dataset (e.g. ImageNet) from local archives, offline."""
    import tensorflow_datasets as tfds

    if not os.path.isdir(manual_dir):
        raise DatasetNotFoundError(f"manual_dir {manual_dir!r} is not a folder")
    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return builder


def folder_dataset(path, batch_size, *, training, image_size=224, seed=0, deterministic=True,
                   shuffle_buffer=10_000, input_context=None, class_names=None):
    """Images in ``path/<class>/*.png|jpg`` with labels by sorted class-folder name."""
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"image folder {path!r} does not exist")
    classes = class_names or sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    files, labels = [], []
    for label, cls in enumerate(classes):
        for fname in sorted(os.listdir(os.path.join(path, cls))):
            if fname.lower().endswith(IMAGE_EXTENSIONS):
                files.append(os.path.join(path, cls, fname))
                labels.append(label)
    if not files:
        raise DatasetNotFoundError(f"image folder {path!r} has no class sub-folders with images {IMAGE_EXTENSIONS}")
    ds = tf.data.Dataset.from_tensor_slices((files, labels))
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

    def load(f, y, s):
        image = tf.io.decode_image(tf.io.read_file(f), channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return (train_preprocess(image, image_size, s) if training else eval_preprocess(image, image_size)), y

    return _finish(ds, batch_size, training, load, seed, deterministic, shuffle_buffer)


def embedded_pipeline(split, batch_size, *, training, image_size=64, seed=0, deterministic=True,
                      input_context=None, data_dir=None, label="category", augment=True, **generator_kwargs):
    """The offline embedded dataset (`convrnn_tf.data.embedded`) as normalised training batches.

    Training batches are shuffled, repeated and (with ``augment``) flipped and shifted by up to
    1/8 of the image; evaluation batches are the split once, in order.
    """
    from convrnn_tf.data import embedded

    images, meta = embedded.load(seed=seed, image_size=image_size, cache_dir=data_dir, **generator_kwargs)
    if split not in embedded.SPLITS + ("all",):
        raise ValueError(f"split must be one of {embedded.SPLITS + ('all',)}, got {split!r}")
    keep = np.ones(len(images), bool) if split == "all" else meta["split"] == split
    if label not in ("category", "object"):
        raise ValueError(f"label must be 'category' or 'object', got {label!r}")
    ds = tf.data.Dataset.from_tensor_slices((images[keep], meta[f"{label}_label"][keep].astype(np.int32)))
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    pad = image_size // 8

    def prepare(x, y, s):
        if training and augment:
            x = tf.image.stateless_random_flip_left_right(x, seed=s)
            x = tf.image.pad_to_bounding_box(x, pad, pad, image_size + 2 * pad, image_size + 2 * pad)
            x = tf.image.stateless_random_crop(x, (image_size, image_size, 3), seed=s + 1)
        return normalize(x), y

    return _finish(ds, batch_size, training, prepare, seed, deterministic, int(keep.sum()))
