"""Feature extraction: run a `ConvRNN` over many images and keep chosen layers at every time step.

    from convrnn_tf import features, zoo
    model = zoo.build("rgc_intermediate")
    feats = features.extract(model, features.open_images("stimuli/"), ["conv9", "conv10"], batch_size=32)
    feats["conv9"].shape          # [N, T, 7, 7, 512]

The original ``run_model.py`` done properly (doc section 7): images are ImageNet-normalised here
(`normalize_images`), any size is resized by the model's input harbor (bilinear, aligned corners),
and images stream through in batches; with ``out_dir`` every batch goes straight to a per-layer
file on disk, so memory stays bounded for any number of images. ``bin/extract_features`` wraps this
and writes ``.npz`` or NetCDF.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

import numpy as np

from convrnn_tf.data.pipelines import IMAGE_EXTENSIONS, IMAGENET_MEAN, IMAGENET_STD

LOGITS = "logits"  #: pseudo-layer: the decoded logits ``[N, 1, K]`` (what ``model(images)`` returns)


class ImageError(ValueError):
    """Images cannot be read or are not RGB images; the message names the file or array."""


def normalize_images(images, where="images"):
    """RGB images ``[B, H, W, 3]`` (or 1 channel, repeated) -> ImageNet-normalised float32.

    As the original ``normalize_ims``: values must be >= 0; uint8 (and other integer) images
    are divided by 255, float images only when their maximum exceeds 1 (it must then be <= 255).
    Unlike the original, that check is made per image, not per batch, so results do not depend on
    the batching. Then ``(x - mean) / std`` per channel.
    """
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ImageError(f"{where}: expected RGB images [N, H, W, 3] (or 1 channel), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ImageError(f"{where}: images must be numbers, got dtype {x.dtype}")
    integer = np.issubdtype(x.dtype, np.integer)
    x = x.astype(np.float32)
    if x.size:
        low, high = x.min(axis=(1, 2, 3)), x.max(axis=(1, 2, 3))
        if not np.all(np.isfinite(high)) or np.any(low < 0) or np.any(high > 255):
            bad = int(np.flatnonzero(~np.isfinite(high) | (low < 0) | (high > 255))[0])
            raise ImageError(f"{where}: image {bad} has values in [{low[bad]}, {high[bad]}]; expected "
                             "uint8 0-255 or float 0-1 (or 0-255)")
        scale = np.where(integer | (high > 1), np.float32(1 / 255), np.float32(1))
        x = x * scale[:, None, None, None]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)


def _resize(image, size):
    """``[H, W, C]`` float -> ``size`` by the harbor's bilinear align-corners resize."""
    if size is None or tuple(image.shape[:2]) == tuple(size):
        return image
    from convrnn_tf.model.resize import interpolation_matrix

    mh, mw = interpolation_matrix(size[0], image.shape[0]), interpolation_matrix(size[1], image.shape[1])
    return np.einsum("oh,hwc,pw->opc", mh, image.astype(np.float32), mw)


# ---------------------------------------------------------------------------------- image sources
class ImageSource:
    """Images with ids, read batch by batch. ``len()`` is the count when known upfront (else None).

    ``batches(n)`` yields ``(ids, images)`` with ``images`` ``[b, H, W, C]`` as stored (uint8, or
    float 0-1 for decoded/resized files); `extract` normalises them.
    """

    def __init__(self, batches, length=None, name="images"):
        self._batches, self.length, self.name = batches, length, name

    def __len__(self):
        if self.length is None:
            raise TypeError(f"{self.name}: the number of images is not known upfront")
        return self.length

    def batches(self, batch_size):
        return self._batches(batch_size)


def array_source(array, ids=None, name="array"):
    """Images from an array ``[N, H, W, C]`` (e.g. a memory-mapped ``.npy``), ids ``0..N-1`` by default."""
    if getattr(array, "ndim", None) == 3:  # [N, H, W] grayscale
        array = array[..., None]
    if getattr(array, "ndim", None) != 4 or array.shape[-1] not in (1, 3):
        raise ImageError(f"{name}: expected images [N, H, W, 3] (or [N, H, W]), got shape "
                         f"{getattr(array, 'shape', None)}")
    if len(array) == 0:
        raise ImageError(f"{name}: no images (the array is empty)")
    ids = [str(i) for i in range(len(array))] if ids is None else [str(i) for i in np.asarray(ids).ravel()]
    if len(ids) != len(array):
        raise ImageError(f"{name}: {len(ids)} ids for {len(array)} images")

    def batches(n):
        for i in range(0, len(array), n):
            yield ids[i:i + n], np.asarray(array[i:i + n])

    return ImageSource(batches, len(array), name)


def _decode(path, size):
    import tensorflow as tf

    try:
        data = tf.io.read_file(path)
        image = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
    except (tf.errors.OpError, ValueError) as err:
        msg = getattr(err, "message", str(err)).strip().splitlines()[0]
        raise ImageError(f"{path}: cannot read as an image: {msg}") from None
    return _resize(image.astype(np.float32) / 255.0, size)


def files_source(paths, ids=None, size=(224, 224), name="files"):
    """Image files decoded to float 0-1 RGB and resized to ``size`` (the harbor's resize) if needed."""
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ImageError(f"{name}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    ids = paths if ids is None else list(ids)

    def batches(n):
        for i in range(0, len(paths), n):
            yield ids[i:i + n], np.stack([_decode(p, size) for p in paths[i:i + n]])

    return ImageSource(batches, len(paths), name)


def tfds_source(name, split, data_dir=None, size=(224, 224)):
    """A split of a tensorflow-datasets dataset that is already prepared locally (never downloads).

    Ids come from an ``id``/``image_id``/``file_name``/``filename`` feature (or ``metadata/image_id``)
    when present, else ``<split>/<index>``.
    """
    import tensorflow_datasets as tfds

    try:  # registers the embedded dataset's builder (convrnn_hvm_like)
        importlib.import_module("convrnn_tf.data.hvm_like_tfds")
    except ImportError:  # pragma: no cover
        pass
    where = f"tfds:{name}/{split}"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # tfds raises many kinds for unknown names/configs
        raise ImageError(f"{where}: unknown tensorflow-datasets dataset: {str(err).splitlines()[0]}") from None
    if not os.path.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        raise ImageError(f"{where}: not prepared under {builder.data_dir} (nothing is downloaded here); "
                         "prepare it once, or pass its data_dir (--tfds_data_dir)")
    try:
        length = builder.info.splits[split].num_examples
        ds = builder.as_dataset(split=split, shuffle_files=False)
    except (KeyError, ValueError) as err:
        raise ImageError(f"{where}: bad split {split!r}: {str(err).splitlines()[0]}") from None
    if "image" not in builder.info.features:
        raise ImageError(f"{where}: no 'image' feature (features: {', '.join(builder.info.features)})")

    def ident(ex, i):
        for key in ("id", "image_id", "file_name", "filename"):
            if key in ex:
                return ex[key].decode() if isinstance(ex[key], bytes) else str(ex[key])
        meta = ex.get("metadata")
        if isinstance(meta, dict) and "image_id" in meta:
            return meta["image_id"].decode()
        return f"{split}/{i}"

    def batches(n):
        ids, images = [], []
        for i, ex in enumerate(tfds.as_numpy(ds)):
            ids.append(ident(ex, i))
            images.append(_resize(ex["image"].astype(np.float32) / 255.0, size))
            if len(ids) == n:
                yield ids, np.stack(images)
                ids, images = [], []
        if ids:
            yield ids, np.stack(images)

    return ImageSource(batches, length, where)


def open_images(spec, size=(224, 224), tfds_data_dir=None) -> ImageSource:
    """Images from a folder (recursive, sorted; ids = relative paths), one image file, an ``.npy``
    (memory-mapped) or ``.npz`` array (the ``images`` entry or its only array; ids from a
    ``stimulus_id``/``image_id``/``ids`` entry when present), or ``tfds:<name>[/<config>]/<split>``."""
    spec = os.fspath(spec)
    if spec.startswith("tfds:"):
        name, _, split = spec[5:].rpartition("/")
        if not name or not split:
            raise ImageError(f"{spec}: expected tfds:<name>/<split>, e.g. tfds:imagenet2012/validation")
        return tfds_source(name, split, tfds_data_dir, size)
    if os.path.isdir(spec):
        found = sorted(os.path.relpath(os.path.join(d, f), spec) for d, _, files in os.walk(spec)
                       for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
        if not found:
            raise ImageError(f"{spec}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        return files_source([os.path.join(spec, f) for f in found], [f.replace(os.sep, "/") for f in found],
                            size, spec)
    if not os.path.isfile(spec):
        raise ImageError(f"{spec}: does not exist (expected a folder, an image, .npy, .npz or tfds:<name>/<split>)")
    low = spec.lower()
    if low.endswith(IMAGE_EXTENSIONS):
        return files_source([spec], [os.path.basename(spec)], size, spec)
    try:
        if low.endswith(".npy"):
            return array_source(np.load(spec, mmap_mode="r"), name=spec)
        if low.endswith(".npz"):
            data = np.load(spec)
            keys = list(data.keys())
            key = "images" if "images" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ImageError(f"{spec}: holds {keys}; name the image array 'images'")
            id_key = next((k for k in ("stimulus_id", "image_id", "ids") if k in keys), None)
            return array_source(data[key], None if id_key is None else data[id_key], f"{spec}[{key}]")
    except (OSError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"{spec}: cannot read: {str(err).splitlines()[0]}") from None
    raise ImageError(f"{spec}: unknown kind of file (expected a folder, an image, .npy, .npz or tfds:<name>/<split>)")


def as_source(images, ids=None) -> ImageSource:
    """An `ImageSource`, a path/spec (`open_images`), an array ``[N, H, W, C]``, or an iterable of
    single images ``[H, W, C]`` (ids ``0, 1, ...`` unless given)."""
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, (str, os.PathLike)):
        return open_images(images)
    if hasattr(images, "shape") and hasattr(images, "ndim"):
        return array_source(images, ids)

    def batches(n):
        names = iter(ids) if ids is not None else None
        chunk = []
        for i, image in enumerate(images):
            chunk.append((str(next(names)) if names else str(i), np.asarray(image)))
            if len(chunk) == n:
                yield [c[0] for c in chunk], np.stack([c[1] for c in chunk])
                chunk = []
        if chunk:
            yield [c[0] for c in chunk], np.stack([c[1] for c in chunk])

    return ImageSource(batches, len(images) if hasattr(images, "__len__") else None, "images")


# ------------------------------------------------------------------------------------- extraction
def check_layers(model, layers):
    """``layers`` (a list or comma-separated string; None = the output node) checked against the model."""
    if layers is None or layers == "" or layers == []:
        return [model.spec.output]
    if isinstance(layers, str):
        layers = [s.strip() for s in layers.split(",") if s.strip()]
    unknown = [n for n in layers if n not in model.spec.nodes and n != LOGITS]
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown} of model {model.name!r}; layers: "
                         f"{', '.join(model.spec.nodes)}, {LOGITS}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers listed twice: {layers}")
    return list(layers)


class Progress:
    """A one-line progress bar on stderr (images done, rate, ETA)."""

    def __init__(self, total=None, enabled=True, stream=None):
        self.total, self.enabled, self.done = total, enabled, 0
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()

    def update(self, n):
        self.done += n
        if not self.enabled:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        if self.total:
            frac = self.done / self.total
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            eta = (self.total - self.done) / rate if rate else 0
            line = f"\r[{bar}] {self.done}/{self.total} images, {rate:.1f} img/s, ETA {eta:.0f}s"
        else:
            line = f"\r{self.done} images, {rate:.1f} img/s"
        self.stream.write(line)
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def iter_features(model, images, layers=None, batch_size=32, steps=None, *, ids=None, normalize=True,
                  progress=False):
    """Yield ``(ids, {layer: float32 [b, T, ...]})`` batch by batch (see `extract` for the arguments)."""
    import tensorflow as tf

    source = as_source(images, ids)
    layers = check_layers(model, layers)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    steps = list(range(model.times)) if steps is None else [int(t) for t in steps]
    if not steps or min(steps) < 0 or max(steps) >= model.times:
        raise ValueError(f"steps must be within 0..{model.times - 1}, got {steps}")
    if not model.built:
        model.build()
    nodes = [n for n in layers if n != LOGITS]

    @tf.function(reduce_retracing=True)
    def run(x):
        out = dict(model.unroll(x, outputs=nodes, steps=steps)) if nodes else {}
        if LOGITS in layers:
            out[LOGITS] = model(x)[:, None]
        return {k: tf.cast(v, tf.float32) for k, v in out.items()}

    bar = Progress(source.length, progress)
    try:
        for batch_ids, raw in source.batches(batch_size):
            x = normalize_images(raw, source.name) if normalize else np.asarray(raw, np.float32)
            n = len(x)
            if n < batch_size:  # pad the last batch: one traced shape for the whole run
                x = np.concatenate([x, np.repeat(x[-1:], batch_size - n, axis=0)])
            out = run(tf.constant(x))
            yield list(batch_ids), {k: out[k].numpy()[:n] for k in layers}
            bar.update(n)
    finally:
        bar.close()


def extract(model, images, layers=None, batch_size=32, steps=None, *, ids=None, out_dir=None,
            normalize=True, progress=False):
    """Features of ``layers`` for every image: ``{layer: float32 [N, len(steps), ...]}``.

    model: a `ConvRNN` (its presentation, times and checkpoint as set up by the caller).
    images: see `as_source` (a folder/array/tfds spec, an array ``[N, H, W, C]``, an iterable of
      images, or an `ImageSource`); uint8 0-255 or float 0-1 RGB, normalised here unless
      ``normalize=False`` (then fed as given).
    layers: node names (and/or ``"logits"``, the decoded output as ``[N, 1, K]``); default the
      output node (``imnetds`` for the zoo), the layer the decoder reads.
    steps: time steps to keep (default all ``model.times``; the original started each layer at
      its ``layer_start_times``, see ``model.layer_start_times``).
    out_dir: if given, each layer is appended batch by batch to ``<out_dir>/<layer>.f32`` and
      returned as a read-only ``np.memmap``, so memory stays bounded; else arrays in memory.
    The image ids (in order) are in ``result.ids`` (the returned dict's attribute).
    """
    sinks, shapes, all_ids = {}, {}, []
    try:
        for batch_ids, feats in iter_features(model, images, layers, batch_size, steps, ids=ids,
                                              normalize=normalize, progress=progress):
            all_ids.extend(batch_ids)
            for k, v in feats.items():
                shapes[k] = v.shape[1:]
                if out_dir is None:
                    sinks.setdefault(k, []).append(v)
                else:
                    if k not in sinks:
                        os.makedirs(out_dir, exist_ok=True)
                        sinks[k] = open(os.path.join(out_dir, f"{k}.f32"), "wb")
                    sinks[k].write(np.ascontiguousarray(v, np.float32).tobytes())
    finally:
        if out_dir is not None:
            for f in sinks.values():
                f.close()
    if not all_ids:
        raise ImageError("images: no images were given")
    result = Features()
    for k in shapes:
        if out_dir is None:
            result[k] = np.concatenate(sinks[k])
        else:
            result[k] = np.memmap(os.path.join(out_dir, f"{k}.f32"), np.float32, "r",
                                  shape=(len(all_ids),) + tuple(shapes[k]))
    result.ids = all_ids
    return result


class Features(dict):
    """``{layer: [N, T, ...]}`` with the image ids in ``.ids``."""

    ids: list = []
