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

import json
import os
import pathlib
import zlib

import numpy as np

from convrnn_tf.data import _render, _shapes
from convrnn_tf.data._shapes import CATEGORY_NAMES, OBJECTS_PER_CATEGORY
# Re-exported (this module is the dataset's API): the spec, the contact sheet and CLI, tf.data and tfds.
from convrnn_tf.data.embedded_sheet import contact_sheet, main, save_png  # noqa: F401
from convrnn_tf.data.embedded_spec import (  # noqa: F401
    CANONICAL_AZIMUTH,
    CANONICAL_ELEVATION,
    CHALLENGE_TYPES,
    GENERATOR_VERSION,
    MAX_IMAGE_SIZE,
    METADATA_FIELDS,
    MIN_IMAGE_SIZE,
    NUM_CATEGORIES,
    NUM_OBJECTS,
    OBJECT_NAMES,
    POSE_RANGES,
    SPLITS,
    VARIATIONS,
    Config,
)
from convrnn_tf.data.embedded_tf import embedded_dataset, tfds_builder  # noqa: F401

_STREAM_IMAGE, _STREAM_CHALLENGE, _STREAM_SPLIT = 201, 202, 203


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
# Cache


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


if __name__ == "__main__":
    main()
