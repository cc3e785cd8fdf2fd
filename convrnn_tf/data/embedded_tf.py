"""The embedded dataset for TensorFlow: a plain ``tf.data`` pipeline and the tensorflow-datasets builder.

Both are re-exported by :mod:`convrnn_tf.data.embedded` (``embedded.embedded_dataset``,
``embedded.tfds_builder``). TensorFlow and tensorflow-datasets are imported only when called.
"""

from __future__ import annotations

import numpy as np

from convrnn_tf.data.embedded_spec import SPLITS, VARIATIONS, _int_arg


def embedded_dataset(split: str = "train", batch_size: int = 32, image_size: int = 64, seed: int = 0,
                     images_per_object: int = 10, variations=VARIATIONS,
                     challenge_fraction: float = 0.25, label: str = "category", shuffle=None,
                     shuffle_seed=None, repeat: bool = False, drop_remainder: bool = False,
                     with_metadata: bool = False, cache_dir=None, **generator_kwargs):
    """A ``tf.data.Dataset`` of the embedded dataset, without tensorflow-datasets.

    Args:
      split: "train", "validation", "test" or "all".
      batch_size: images per batch (>= 1).
      image_size, seed, images_per_object, variations, challenge_fraction, **generator_kwargs: the
        generator config (see ``embedded.generate``); the images are generated once and cached
        (``embedded.load``).
      label: "category" (8 classes) or "object" (64 classes).
      shuffle: shuffle the examples (default: only for "train"), with ``shuffle_seed`` (default ``seed``).
      repeat: repeat forever. drop_remainder: drop a last partial batch.
      with_metadata: yield ``(images, labels, metadata)`` with metadata a dict of tensors.
      cache_dir: see ``embedded.load``.

    Yields:
      ``(images, labels)``: uint8 [B, H, W, 3] in [0, 255] (not normalised) and int32 [B].
    """
    if split not in SPLITS + ("all",):
        raise ValueError(f"split must be one of {SPLITS + ('all',)}, got {split!r}")
    if label not in ("category", "object"):
        raise ValueError(f"label must be 'category' or 'object', got {label!r}")
    batch_size = _int_arg("batch_size", batch_size, 1)
    from convrnn_tf.data.embedded import load  # not at the top: embedded imports this module

    images, metadata = load(seed=seed, image_size=image_size, images_per_object=images_per_object,
                            variations=variations, challenge_fraction=challenge_fraction,
                            cache_dir=cache_dir, **generator_kwargs)
    import tensorflow as tf

    keep = np.ones(len(images), bool) if split == "all" else metadata["split"] == split
    labels = metadata[f"{label}_label"][keep].astype(np.int32)
    elements = (images[keep], labels)
    if with_metadata:
        meta = {k: (np.char.encode(v[keep], "utf-8") if v.dtype.kind == "U" else v[keep])
                for k, v in metadata.items()}
        elements = elements + (meta,)
    ds = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle is None:
        shuffle = split == "train"
    if shuffle:
        ds = ds.shuffle(int(keep.sum()), seed=seed if shuffle_seed is None else shuffle_seed,
                        reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def tfds_builder(data_dir=None, **config):
    """The tensorflow-datasets builder ``convrnn_hvm_like`` for this config (needs tensorflow-datasets).

    ``builder.download_and_prepare()`` renders the images locally into ``data_dir`` (never downloads);
    ``builder.as_dataset(split=...)`` reads them back.
    """
    try:
        from convrnn_tf.data import hvm_like_tfds
    except ImportError as e:
        raise ImportError("tfds_builder needs tensorflow-datasets: pip install tensorflow-datasets "
                          f"importlib_resources ({e})") from e
    return hvm_like_tfds.builder(data_dir=data_dir, **config)
