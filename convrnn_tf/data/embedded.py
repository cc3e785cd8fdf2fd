"""The offline embedded default dataset: an HvM-like image set generated locally from a seed.

Stand-in for ImageNet (quick training on a CPU) and stimulus set for neural fitting and decoding, modelled
on the HvM image set of Majaj, Hong, Solomon & DiCarlo (2015): 8 categories x 8 objects rendered at
three variation levels (V0, V3, V6) on natural-looking backgrounds. Nothing is downloaded: the shapes are
procedural, the backgrounds are 1/f noise or crops of the two photos that ship with scikit-learn.

Quick use::

    from convrnn_tf.data import embedded
    images, meta = embedded.generate(seed=0, image_size=64, images_per_object=10)   # uint8 [1920,64,64,3]
    meta["category_label"], meta["variation"], meta["challenge"], meta["split"]     # numpy arrays
    ds = embedded.embedded_dataset("train", batch_size=32, image_size=64, seed=0)   # tf.data, cached .npz
    builder = embedded.tfds_builder(data_dir="/tmp/tfds", image_size=64)            # tensorflow-datasets
    builder.download_and_prepare()                                                  # no network

Images are RGB ``uint8`` in [0, 255]; ImageNet-style normalisation is the consumer's job.
See ``convrnn_tf/data/__init__.py`` for how the images are made, the metadata fields and the citation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
import os
import pathlib
import struct
import time
import zlib

import numpy as np

from convrnn_tf.data import _render, _shapes
from convrnn_tf.data._shapes import CATEGORY_NAMES, OBJECTS_PER_CATEGORY

GENERATOR_VERSION = "1.0.0"  # bump whenever the pixels a config produces change (invalidates caches)

NUM_CATEGORIES = len(CATEGORY_NAMES)
NUM_OBJECTS = NUM_CATEGORIES * OBJECTS_PER_CATEGORY
OBJECT_NAMES = tuple(f"{c}_{j}" for c in CATEGORY_NAMES for j in range(OBJECTS_PER_CATEGORY))
VARIATIONS = ("V0", "V3", "V6")
SPLITS = ("train", "validation", "test")
CHALLENGE_TYPES = ("low_contrast", "occlusion", "clutter")
MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 1024

#: Canonical view (degrees) every object is seen from at V0: from ~28 deg above, three-quarter.
CANONICAL_ELEVATION, CANONICAL_AZIMUTH = -28.0, 35.0

#: Pose ranges per variation level (modelled on HvM; image coordinates span [-1, 1]).
#: translation: |tx|, |ty| <= value; scale: log-uniform in [lo, hi]; rotation: each of rot_x, rot_y
#: (in depth) and rot_z (in plane) uniform in [-value, value] degrees, relative to the canonical view.
POSE_RANGES = {
    "V0": {"translation": 0.0, "scale": (1.0, 1.0), "rotation": 0.0},
    "V3": {"translation": 0.3, "scale": (0.8, 1.25), "rotation": 45.0},
    "V6": {"translation": 0.6, "scale": (0.625, 1.6), "rotation": 90.0},
}

#: Metadata fields returned by :func:`generate`, with their numpy dtypes ("U" = unicode string).
METADATA_FIELDS = {
    "index": "int64",
    "image_id": "U",
    "object_name": "U",
    "object_label": "int64",
    "category_name": "U",
    "category_label": "int64",
    "variation": "U",
    "variation_level": "int64",
    "tx": "float32",
    "ty": "float32",
    "scale": "float32",
    "rot_x": "float32",
    "rot_y": "float32",
    "rot_z": "float32",
    "challenge": "bool",
    "challenge_type": "U",
    "background": "U",
    "object_area": "float32",
    "split": "U",
}

_STREAM_IMAGE, _STREAM_CHALLENGE, _STREAM_SPLIT = 201, 202, 203


# ---------------------------------------------------------------------------------------------------
# Configuration


def _int_arg(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    return int(value)


def _fraction_arg(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value}")
    return value


@dataclasses.dataclass(frozen=True)
class Config:
    """A full, validated generator configuration (everything the pixels depend on)."""

    seed: int = 0
    image_size: int = 64
    images_per_object: int = 10
    variations: tuple = VARIATIONS
    challenge_fraction: float = 0.25
    photo_fraction: float = 0.5
    split_fractions: tuple = (0.7, 0.15, 0.15)
    supersample: int = 2

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("seed", _int_arg("seed", self.seed, 0, 2 ** 63 - 1))
        set_("image_size", _int_arg("image_size", self.image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE))
        set_("images_per_object", _int_arg("images_per_object", self.images_per_object, 1))
        set_("supersample", _int_arg("supersample", self.supersample, 1, 4))
        variations = self.variations
        if isinstance(variations, str):
            variations = (variations,)
        try:
            variations = tuple(variations)
        except TypeError:
            raise ValueError(f"variations must be a sequence of {VARIATIONS}, got {variations!r}") from None
        bad = [v for v in variations if v not in VARIATIONS]
        if not variations or bad or len(set(variations)) != len(variations):
            raise ValueError(f"variations must be a non-empty subset of {VARIATIONS} without repeats, "
                             f"got {self.variations!r}")
        set_("variations", tuple(v for v in VARIATIONS if v in variations))
        set_("challenge_fraction", _fraction_arg("challenge_fraction", self.challenge_fraction))
        set_("photo_fraction", _fraction_arg("photo_fraction", self.photo_fraction))
        try:
            fr = tuple(float(f) for f in self.split_fractions)
        except (TypeError, ValueError):
            fr = ()
        if len(fr) != 3 or min(fr) < 0 or fr[0] <= 0 or abs(sum(fr) - 1.0) > 1e-6:
            raise ValueError("split_fractions must be 3 non-negative numbers (train, validation, test) "
                             f"summing to 1 with train > 0, got {self.split_fractions!r}")
        set_("split_fractions", fr)

    @property
    def num_images(self) -> int:
        return NUM_OBJECTS * len(self.variations) * self.images_per_object

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["variations"], d["split_fractions"] = list(self.variations), list(self.split_fractions)
        return d

    def key(self) -> str:
        """A short hash of the config and generator version (names cache files)."""
        blob = json.dumps({"version": GENERATOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------
# Generation


def _object_shapes(seed: int):
    return [_shapes.make_object(seed, c, j)
            for c in range(NUM_CATEGORIES) for j in range(OBJECTS_PER_CATEGORY)]


def _sample_pose(rng: np.random.Generator, variation: str) -> dict:
    r = POSE_RANGES[variation]
    t, (lo, hi), rot = r["translation"], r["scale"], r["rotation"]
    return {
        "tx": rng.uniform(-t, t) if t else 0.0,
        "ty": rng.uniform(-t, t) if t else 0.0,
        "scale": float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if hi > lo else lo,
        "rot_x": rng.uniform(-rot, rot) if rot else 0.0,
        "rot_y": rng.uniform(-rot, rot) if rot else 0.0,
        "rot_z": rng.uniform(-rot, rot) if rot else 0.0,
    }


def _place(shape: _shapes.Shape, rotation: np.ndarray, scale: float, offset) -> tuple:
    centers = scale * shape.centers @ rotation.T + np.asarray(offset, float)
    axes = scale * np.einsum("ij,kjl->kil", rotation, shape.axes)
    return centers, axes


def _balanced_order(rng: np.random.Generator, objects: np.ndarray) -> np.ndarray:
    """Indices ordered round-robin: one image of every object (categories interleaved), then the next.

    The first n of the order hold each category n/8 (+-1) times and each object n/64 (+-1) times.
    """
    n = len(objects)
    rank_in_object = np.empty(n, dtype=np.int64)
    for o in np.unique(objects):
        idx = np.flatnonzero(objects == o)
        rank_in_object[idx] = rng.permutation(len(idx))
    obj_rank = np.empty(NUM_OBJECTS, dtype=np.int64)  # object's slot within its category
    for c in range(NUM_CATEGORIES):
        obj_rank[c * OBJECTS_PER_CATEGORY:(c + 1) * OBJECTS_PER_CATEGORY] = rng.permutation(
            OBJECTS_PER_CATEGORY)
    cat_rank = rng.permutation(NUM_CATEGORIES)
    cats = objects // OBJECTS_PER_CATEGORY
    return np.lexsort((cat_rank[cats], obj_rank[objects], rank_in_object))


def _assign_challenges(cfg: Config, objects, levels):
    """Exactly round(fraction * n) challenge images per variation level, balanced over categories."""
    types = np.full(len(objects), "none", dtype="<U12")
    for level in np.unique(levels):
        idx = np.flatnonzero(levels == level)
        rng = np.random.default_rng([cfg.seed, _STREAM_CHALLENGE, int(level)])
        order = idx[_balanced_order(rng, objects[idx])]
        n_ch = int(np.floor(cfg.challenge_fraction * len(idx) + 0.5))
        chosen = order[:n_ch]
        kinds = np.resize(np.array(CHALLENGE_TYPES), n_ch)
        types[chosen] = kinds[rng.permutation(n_ch)]
    return types


def _split_counts(n: int, fractions) -> tuple[int, int, int]:
    counts = []
    for f in fractions[1:]:
        k = int(np.floor(f * n + 0.5))
        if f > 0 and n >= 3:
            k = max(k, 1)
        counts.append(k)
    n_val, n_test = counts
    while n - n_val - n_test < 1:  # keep at least one training image
        if n_val >= n_test and n_val > 0:
            n_val -= 1
        else:
            n_test -= 1
    return n - n_val - n_test, n_val, n_test


def _assign_splits(cfg: Config, objects, levels):
    """Per object: images ordered round-robin over variation levels, then test, validation, train.

    Deterministic in the seed and stratified by object (every object has ``split_fractions`` of its
    images in each split, rounded, at least one each when it has 3 or more) and, within an object,
    spread over the variation levels.
    """
    split = np.empty(len(objects), dtype="<U10")
    for o in range(NUM_OBJECTS):
        idx = np.flatnonzero(objects == o)
        rng = np.random.default_rng([cfg.seed, _STREAM_SPLIT, o])
        rank = np.empty(len(idx), dtype=np.int64)
        for level in np.unique(levels[idx]):
            sel = np.flatnonzero(levels[idx] == level)
            rank[sel] = rng.permutation(len(sel))
        level_order = rng.permutation(10)[levels[idx]]
        order = idx[np.lexsort((level_order, rank))]
        n_train, n_val, n_test = _split_counts(len(idx), cfg.split_fractions)
        split[order[:n_test]] = "test"
        split[order[n_test:n_test + n_val]] = "validation"
        split[order[n_test + n_val:]] = "train"
    return split


def _render_image(cfg: Config, shape, rng_pose, rng_bg, rng_ch, variation: str, challenge: str):
    size, ss = cfg.image_size, cfg.supersample
    pose = _sample_pose(rng_pose, variation)
    rot = _shapes.rotation_matrix(np.deg2rad(pose["rot_x"]), np.deg2rad(pose["rot_y"]),
                                  np.deg2rad(pose["rot_z"]))
    rot = rot @ _shapes.rotation_matrix(np.deg2rad(CANONICAL_ELEVATION), np.deg2rad(CANONICAL_AZIMUTH), 0.0)
    centers, axes = _place(shape, rot, pose["scale"], (pose["tx"], pose["ty"], 0.0))
    albedo = shape.albedo
    item = np.zeros(len(centers), dtype=np.int64)

    if challenge == "clutter":  # 3-5 distractor blobs, most behind the object, some in front
        c_list, a_list, al_list, it_list = [centers], [axes], [albedo], [item]
        for d in range(int(rng_ch.integers(3, 6))):
            blob = _shapes.make_distractor(rng_ch)
            depth = 3.0 if rng_ch.random() < 0.7 else -3.0
            pos = (rng_ch.uniform(-0.85, 0.85), rng_ch.uniform(-0.85, 0.85), depth)
            dc, da = _place(blob, np.eye(3), rng_ch.uniform(0.8, 1.6), pos)
            c_list.append(dc), a_list.append(da), al_list.append(blob.albedo)
            it_list.append(np.full(len(dc), d + 1, dtype=np.int64))
        centers, axes = np.concatenate(c_list), np.concatenate(a_list)
        albedo, item = np.concatenate(al_list), np.concatenate(it_list)

    premult, coverage, obj_alpha = _render.render(centers, axes, albedo, item, size, ss)

    if rng_bg.random() < cfg.photo_fraction:
        bg, _ = _render.photo_background(rng_bg, size)
        background = "photo"
    else:
        bg = _render.noise_background(rng_bg, size)
        background = "noise"

    if challenge == "low_contrast":  # pull the object's colours towards the background under it
        k = rng_ch.uniform(0.2, 0.4)
        w = obj_alpha.sum()
        mean = (bg * obj_alpha[..., None]).sum(axis=(0, 1)) / w if w > 0 else bg.mean(axis=(0, 1))
        premult = k * premult + (1.0 - k) * mean * obj_alpha[..., None]

    out = premult + (1.0 - coverage)[..., None] * bg
    visible = obj_alpha

    if challenge == "occlusion":  # a textured blob over part of the object
        ys, xs = np.nonzero(obj_alpha > 0.5)
        if len(ys):
            j = int(rng_ch.integers(len(ys)))
            coords = _render.pixel_centers(size)
            center = (coords[xs[j]], -coords[ys[j]])
        else:
            center = (pose["tx"], pose["ty"])
        area = max(obj_alpha.sum(), 1.0) * (2.0 / size) ** 2
        radius = np.sqrt(rng_ch.uniform(0.45, 0.75) * area / np.pi)
        occ = _render.blob_coverage(rng_ch, size, center, radius, ss)
        texture = rng_ch.uniform(0.15, 0.85, size=3) + 0.12 * _render.pink_noise(rng_ch, size, 1, 1.2)
        out = occ[..., None] * np.clip(texture, 0, 1) + (1.0 - occ[..., None]) * out
        visible = obj_alpha * (1.0 - occ)

    img = np.clip(np.floor(out * 255.0 + 0.5), 0, 255).astype(np.uint8)
    return img, visible, pose, background


def generate(seed: int = 0, image_size: int = 64, images_per_object: int = 10,
             variations=VARIATIONS, challenge_fraction: float = 0.25, photo_fraction: float = 0.5,
             split_fractions=(0.7, 0.15, 0.15), supersample: int = 2, return_masks: bool = False):
    """Generate the dataset in memory.

    Args:
      seed: non-negative integer; same seed and config give byte-identical images and metadata.
      image_size: height = width in pixels (16 to 1024; 32, 64 and 128 are typical).
      images_per_object: images of each of the 64 objects at each variation level.
      variations: the variation levels to render, a subset of ``("V0", "V3", "V6")``.
      challenge_fraction: fraction of the images of each level that are challenge images (low
        contrast, occlusion or clutter, in equal numbers); the others are "control".
      photo_fraction: probability that an image's background is a photo crop rather than 1/f noise.
      split_fractions: (train, validation, test) fractions, applied per object.
      supersample: rays per pixel along each axis (anti-aliasing).
      return_masks: also return the visible-object masks (bool [N, H, W], coverage >= 0.5).

    Returns:
      ``(images, metadata)``: images uint8 [N, H, W, 3] RGB in [0, 255] with
      N = 64 * len(variations) * images_per_object, ordered by object, then variation, then index;
      metadata a dict of numpy arrays of length N (see ``METADATA_FIELDS``). With ``return_masks``,
      ``(images, metadata, masks)``.

    Raises:
      ValueError: naming the argument, when an argument is out of range or of the wrong type.
    """
    cfg = Config(seed=seed, image_size=image_size, images_per_object=images_per_object,
                 variations=variations, challenge_fraction=challenge_fraction,
                 photo_fraction=photo_fraction, split_fractions=split_fractions, supersample=supersample)
    return _generate(cfg, return_masks=return_masks)


def _generate(cfg: Config, return_masks: bool = False):
    shapes = _object_shapes(cfg.seed)
    levels_all = {v: int(v[1:]) for v in VARIATIONS}
    rows = [(o, v, k) for o in range(NUM_OBJECTS) for v in cfg.variations
            for k in range(cfg.images_per_object)]
    n = len(rows)
    objects = np.array([r[0] for r in rows], dtype=np.int64)
    levels = np.array([levels_all[r[1]] for r in rows], dtype=np.int64)
    challenge_types = _assign_challenges(cfg, objects, levels)
    splits = _assign_splits(cfg, objects, levels)

    s = cfg.image_size
    images = np.empty((n, s, s, 3), dtype=np.uint8)
    masks = np.empty((n, s, s), dtype=bool) if return_masks else None
    meta = {k: [] for k in ("tx", "ty", "scale", "rot_x", "rot_y", "rot_z", "background", "object_area")}
    for i, (o, v, k) in enumerate(rows):
        ss = np.random.SeedSequence([cfg.seed, _STREAM_IMAGE, o, levels_all[v], k])
        rng_pose, rng_bg, rng_ch = (np.random.default_rng(x) for x in ss.spawn(3))
        img, visible, pose, background = _render_image(cfg, shapes[o], rng_pose, rng_bg, rng_ch, v,
                                                       str(challenge_types[i]))
        images[i] = img
        if masks is not None:
            masks[i] = visible >= 0.5
        for key in ("tx", "ty", "scale", "rot_x", "rot_y", "rot_z"):
            meta[key].append(pose[key])
        meta["background"].append(background)
        meta["object_area"].append(float(visible.mean()))

    cats = objects // OBJECTS_PER_CATEGORY
    variation_names = np.array([r[1] for r in rows])
    metadata = {
        "index": np.arange(n, dtype=np.int64),
        "image_id": np.array([f"s{cfg.seed}-{OBJECT_NAMES[o]}-{v}-{k:04d}" for o, v, k in rows]),
        "object_name": np.array(OBJECT_NAMES)[objects],
        "object_label": objects,
        "category_name": np.array(CATEGORY_NAMES)[cats],
        "category_label": cats.astype(np.int64),
        "variation": variation_names,
        "variation_level": levels,
        **{key: np.array(meta[key], dtype=np.float32)
           for key in ("tx", "ty", "scale", "rot_x", "rot_y", "rot_z")},
        "challenge": challenge_types != "none",
        "challenge_type": challenge_types.astype(str),
        "background": np.array(meta["background"]),
        "object_area": np.array(meta["object_area"], dtype=np.float32),
        "split": splits.astype(str),
    }
    assert list(metadata) == list(METADATA_FIELDS)
    return (images, metadata, masks) if return_masks else (images, metadata)


def records(metadata: dict) -> list[dict]:
    """The metadata as a list of per-image dicts of Python scalars (no pandas needed)."""
    keys = list(metadata)
    n = len(metadata[keys[0]]) if keys else 0
    return [{k: metadata[k][i].item() for k in keys} for i in range(n)]


def select(images: np.ndarray, metadata: dict, mask) -> tuple[np.ndarray, dict]:
    """Rows of ``images`` and every metadata array where the boolean ``mask`` (or index array) holds."""
    return images[mask], {k: v[mask] for k, v in metadata.items()}


# ---------------------------------------------------------------------------------------------------
# Cache and tf.data


_MEMO: dict = {}


def default_cache_dir() -> pathlib.Path:
    """``$CONVRNN_TF_DATA_DIR/embedded`` if set, else ``~/.cache/convrnn_tf/embedded``."""
    root = os.environ.get("CONVRNN_TF_DATA_DIR")
    base = pathlib.Path(root) if root else pathlib.Path.home() / ".cache" / "convrnn_tf"
    return base / "embedded"


def load(seed: int = 0, image_size: int = 64, images_per_object: int = 10, variations=VARIATIONS,
         challenge_fraction: float = 0.25, photo_fraction: float = 0.5,
         split_fractions=(0.7, 0.15, 0.15), supersample: int = 2, cache_dir=None):
    """Like :func:`generate`, but memoised in the process and cached to ``<cache_dir>/<key>.npz``.

    ``cache_dir=None`` uses :func:`default_cache_dir`; ``cache_dir=False`` keeps only the in-process
    memo. The key hashes the full config and ``GENERATOR_VERSION``. Returned arrays are read-only.
    """
    cfg = Config(seed=seed, image_size=image_size, images_per_object=images_per_object,
                 variations=variations, challenge_fraction=challenge_fraction,
                 photo_fraction=photo_fraction, split_fractions=split_fractions, supersample=supersample)
    key = cfg.key()
    if key in _MEMO:
        return _MEMO[key]
    path = None
    if cache_dir is not False:
        folder = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = folder / f"hvm_like_{key}.npz"
    result = None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                images = z["images"]
                metadata = {k: z["meta_" + k] for k in METADATA_FIELDS}
            result = images, metadata
        except (OSError, KeyError, ValueError, zlib.error):
            result = None  # unreadable or stale: regenerate
    if result is None:
        result = _generate(cfg)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, images=result[0], config=json.dumps(cfg.to_dict()),
                     **{"meta_" + k: v for k, v in result[1].items()})
            os.replace(tmp, path)
    for arr in (result[0], *result[1].values()):
        arr.setflags(write=False)
    if len(_MEMO) >= 2:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = result
    return result


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
        generator config (see :func:`generate`); the images are generated once and cached (:func:`load`).
      label: "category" (8 classes) or "object" (64 classes).
      shuffle: shuffle the examples (default: only for "train"), with ``shuffle_seed`` (default ``seed``).
      repeat: repeat forever. drop_remainder: drop a last partial batch.
      with_metadata: yield ``(images, labels, metadata)`` with metadata a dict of tensors.
      cache_dir: see :func:`load`.

    Yields:
      ``(images, labels)``: uint8 [B, H, W, 3] in [0, 255] (not normalised) and int32 [B].
    """
    if split not in SPLITS + ("all",):
        raise ValueError(f"split must be one of {SPLITS + ('all',)}, got {split!r}")
    if label not in ("category", "object"):
        raise ValueError(f"label must be 'category' or 'object', got {label!r}")
    batch_size = _int_arg("batch_size", batch_size, 1)
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


# ---------------------------------------------------------------------------------------------------
# Contact sheet and PNG


def contact_sheet(images: np.ndarray, metadata: dict, per_category: int = 8, border: int = 2,
                  gap: int = 2) -> np.ndarray:
    """A grid: one row per category, columns grouped by variation level (V0 | V3 | V6).

    Each row takes images of different objects, including challenge images where there are any. Tiles
    of challenge images get a red border, control images a grey one; wider gaps separate the levels.
    """
    levels = [v for v in VARIATIONS if np.any(metadata["variation"] == v)]
    counts = [per_category // len(levels) + (i < per_category % len(levels)) for i in range(len(levels))]
    s = images.shape[1]
    tile = s + 2 * border
    group_gap = 3 * gap
    width = sum(counts) * (tile + gap) + (len(levels) - 1) * group_gap + gap
    height = NUM_CATEGORIES * (tile + gap) + gap
    sheet = np.full((height, width, 3), 255, np.uint8)
    for c in range(NUM_CATEGORIES):
        x = gap
        for v, count in zip(levels, counts):
            idx = np.flatnonzero((metadata["category_label"] == c) & (metadata["variation"] == v))
            ch = [i for i in idx if metadata["challenge"][i]]
            picks, seen = [], set()
            for i in ch[:max(1, count // 3)] + [i for i in idx if not metadata["challenge"][i]] + ch:
                if len(picks) == count:
                    break
                if metadata["object_label"][i] not in seen or len(seen) >= OBJECTS_PER_CATEGORY:
                    picks.append(i)
                    seen.add(metadata["object_label"][i])
            for i in picks:
                y = gap + c * (tile + gap)
                colour = (220, 30, 30) if metadata["challenge"][i] else (120, 120, 120)
                sheet[y:y + tile, x:x + tile] = colour
                sheet[y + border:y + border + s, x + border:x + border + s] = images[i]
                x += tile + gap
            x += group_gap + (count - len(picks)) * (tile + gap)
    return sheet


def save_png(path, image: np.ndarray) -> None:
    """Write an RGB uint8 [H, W, 3] (or grey [H, W]) array as a PNG with only numpy and zlib."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    h, w = image.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    pathlib.Path(path).write_bytes(png)


def main(argv=None) -> None:
    """``python -m convrnn_tf.data.embedded``: generate, time it, and write a contact sheet."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--images-per-object", type=int, default=10)
    p.add_argument("--contact-sheet", default="/tmp/embedded_contact_sheet.png")
    p.add_argument("--scale", type=int, default=2, help="contact sheet pixel repeat")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    images, meta = generate(seed=a.seed, image_size=a.image_size, images_per_object=a.images_per_object)
    dt = time.perf_counter() - t0
    print(f"{len(images)} images of {a.image_size}x{a.image_size} in {dt:.1f} s "
          f"({1000 * dt / len(images):.1f} ms/image); challenge fraction "
          f"{meta['challenge'].mean():.3f}; splits "
          + ", ".join(f"{s}={int((meta['split'] == s).sum())}" for s in SPLITS))
    sheet = contact_sheet(images, meta)
    sheet = sheet.repeat(a.scale, axis=0).repeat(a.scale, axis=1)
    save_png(a.contact_sheet, sheet)
    print(f"contact sheet: {a.contact_sheet} (rows: {', '.join(CATEGORY_NAMES)}; columns V0 | V3 | V6; "
          "red border = challenge)")


if __name__ == "__main__":
    main()
