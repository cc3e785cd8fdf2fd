"""The embedded HvM-like dataset: determinism, metadata, images, splits, learnability, tf.data, errors."""

import hashlib
import struct
import zlib

import numpy as np
import pytest

from convrnn_tf.data import _render, embedded as E

SMALL = dict(seed=3, image_size=32, images_per_object=2)  # 384 images


def _digest(images, metadata) -> str:
    h = hashlib.sha256(images.tobytes())
    for k in sorted(metadata):
        h.update(k.encode())
        h.update(np.ascontiguousarray(metadata[k]).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small():
    return E.generate(return_masks=True, **SMALL)


def test_same_seed_same_bytes_other_seed_differs():
    cfg = dict(seed=3, image_size=16, images_per_object=1)
    images, meta = E.generate(**cfg)
    assert _digest(images, meta) == _digest(*E.generate(**cfg))
    other = E.generate(**{**cfg, "seed": 4})
    assert _digest(images, meta) != _digest(*other)
    assert (images != other[0]).any(axis=(1, 2, 3)).all()  # every image differs


def test_metadata_complete_and_consistent(small):
    images, meta, _ = small
    n = 64 * 3 * SMALL["images_per_object"]
    assert images.shape == (n, 32, 32, 3) and images.dtype == np.uint8
    assert list(meta) == list(E.METADATA_FIELDS)
    for key, kind in E.METADATA_FIELDS.items():
        assert len(meta[key]) == n, key
        assert meta[key].dtype.kind == "U" if kind == "U" else meta[key].dtype == np.dtype(kind), key
    np.testing.assert_array_equal(meta["index"], np.arange(n))
    assert len(set(meta["image_id"])) == n
    assert meta["image_id"][0] == "s3-animals_0-V0-0000"

    # 8 categories x 8 objects, names and labels agree
    assert len(np.unique(meta["object_name"])) == 64 and len(E.OBJECT_NAMES) == 64
    for c, name in enumerate(E.CATEGORY_NAMES):
        sel = meta["category_label"] == c
        assert set(meta["category_name"][sel]) == {name}
        assert len(np.unique(meta["object_label"][sel])) == 8
        assert all(o.startswith(name + "_") for o in meta["object_name"][sel])
    np.testing.assert_array_equal(meta["object_label"] // 8, meta["category_label"])
    np.testing.assert_array_equal(np.array(E.OBJECT_NAMES)[meta["object_label"]], meta["object_name"])

    # every variation level present, equally often; pose ranges grow with the level
    for v in E.VARIATIONS:
        sel = meta["variation"] == v
        assert sel.sum() == n // 3
        np.testing.assert_array_equal(meta["variation_level"][sel], int(v[1]))
        r = E.POSE_RANGES[v]
        assert np.all(np.abs(meta["tx"][sel]) <= r["translation"] + 1e-6)
        assert np.all(np.abs(meta["ty"][sel]) <= r["translation"] + 1e-6)
        scale = meta["scale"][sel]
        assert np.all((scale >= r["scale"][0] - 1e-6) & (scale <= r["scale"][1] + 1e-6))
        for rot in ("rot_x", "rot_y", "rot_z"):
            assert np.all(np.abs(meta[rot][sel]) <= r["rotation"] + 1e-4)
    v0 = meta["variation"] == "V0"
    assert np.all(meta["tx"][v0] == 0) and np.all(meta["scale"][v0] == 1) and np.all(meta["rot_z"][v0] == 0)
    v6 = meta["variation"] == "V6"
    assert np.abs(meta["rot_y"][v6]).max() > 45 and np.abs(meta["tx"][v6]).max() > 0.3

    # challenge: exactly the configured fraction per level, kinds balanced, spread over categories
    np.testing.assert_array_equal(meta["challenge"], meta["challenge_type"] != "none")
    for v in E.VARIATIONS:
        sel = meta["variation"] == v
        assert meta["challenge"][sel].sum() == round(0.25 * sel.sum())  # 32 of 128
        per_cat = np.bincount(meta["category_label"][sel & meta["challenge"]], minlength=8)
        assert per_cat.max() - per_cat.min() <= 1
    kinds = [int((meta["challenge_type"] == k).sum()) for k in E.CHALLENGE_TYPES]
    assert max(kinds) - min(kinds) <= 3 and sum(kinds) == meta["challenge"].sum()
    assert set(meta["background"]) == {"noise", "photo"}

    recs = E.records(meta)
    assert len(recs) == n and recs[5]["image_id"] == meta["image_id"][5]
    assert isinstance(recs[5]["challenge"], bool) and isinstance(recs[5]["tx"], float)


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_challenge_fraction_is_configurable(fraction):
    _, meta = E.generate(seed=0, image_size=16, images_per_object=1, variations=("V0",),
                         challenge_fraction=fraction, photo_fraction=0.0)
    assert meta["challenge"].sum() == round(fraction * 64)
    assert set(meta["variation"]) == {"V0"} and set(meta["background"]) == {"noise"}


def test_images_not_degenerate(small):
    images, meta, masks = small
    area = meta["object_area"]
    # the object is visible and covers a reasonable part of the image
    assert np.all(area > 0.005)
    control_v0 = (meta["variation"] == "V0") & ~meta["challenge"]
    assert np.all((area[control_v0] > 0.02) & (area[control_v0] < 0.5))
    assert 0.04 < np.median(area) < 0.3
    # the masks agree with the recorded areas (coverage >= 0.5 vs mean coverage)
    assert np.abs(masks.mean(axis=(1, 2)) - area).max() < 0.05
    # backgrounds vary within and between images; images differ from each other
    x = images.astype(np.float64)
    bg_std = np.array([x[i][~masks[i]].std() for i in range(len(x))])
    assert np.median(bg_std) > 5
    assert len({hashlib.sha1(im.tobytes()).hexdigest() for im in images}) == len(images)
    # the object stands out from the background under it in control images
    ctrl = ~meta["challenge"]
    contrast = np.array([np.abs(x[i][masks[i]].mean(0) - x[i][~masks[i]].mean(0)).max()
                         for i in np.flatnonzero(ctrl)])
    assert np.median(contrast) > 10


def test_v0_is_a_fixed_pose_and_objects_differ(small):
    _, meta, masks = small
    ctrl_v0 = (meta["variation"] == "V0") & ~meta["challenge"]
    shapes = {}
    for o in range(64):
        idx = np.flatnonzero(ctrl_v0 & (meta["object_label"] == o))
        for i in idx[1:]:  # same object at V0: identical silhouette
            np.testing.assert_array_equal(masks[i], masks[idx[0]])
        if len(idx):
            shapes[o] = masks[idx[0]]
    # objects of a category share a plan but are not identical
    for c in range(8):
        objs = [o for o in range(c * 8, c * 8 + 8) if o in shapes]
        for a in objs:
            for b in objs:
                if a < b:
                    assert not np.array_equal(shapes[a], shapes[b])


def test_sizes_32_and_128_render_the_same_scene():
    kw = dict(seed=5, images_per_object=1, variations=("V3",), challenge_fraction=0.0)
    i32, m32 = E.generate(image_size=32, **kw)
    i128, m128 = E.generate(image_size=128, **kw)
    assert i32.shape == (64, 32, 32, 3) and i128.shape == (64, 128, 128, 3)
    for k in ("image_id", "tx", "ty", "scale", "rot_x", "rot_y", "rot_z", "split"):
        np.testing.assert_array_equal(m32[k], m128[k])
    assert np.abs(m32["object_area"] - m128["object_area"]).max() < 0.03


def test_splits_disjoint_stratified_deterministic(small):
    _, meta, _ = small
    split = meta["split"]
    assert set(split) == set(E.SPLITS)
    ids = {s: set(meta["image_id"][split == s]) for s in E.SPLITS}
    assert sum(len(v) for v in ids.values()) == len(split)
    assert not ids["train"] & ids["validation"]
    assert not ids["train"] & ids["test"] and not ids["validation"] & ids["test"]
    for o in range(64):  # 6 images per object: 4 / 1 / 1
        sel = meta["object_label"] == o
        assert [int((split[sel] == s).sum()) for s in E.SPLITS] == [4, 1, 1]
    # more images per object (split assignment only, no rendering): fractions per object, levels mixed
    def splits(seed, n_per_level, levels):
        cfg = E.Config(seed=seed, images_per_object=n_per_level)
        objects = np.repeat(np.arange(64), n_per_level * len(levels))
        lv = np.tile(np.repeat(levels, n_per_level), 64)
        return objects, lv, E._assign_splits(cfg, objects, lv)

    objects, levels, split10 = splits(3, 10, [0, 6])
    for o in range(64):
        sel = objects == o
        assert [int((split10[sel] == s).sum()) for s in E.SPLITS] == [14, 3, 3]
        assert set(levels[sel & (split10 == "test")]) == {0, 6}
    np.testing.assert_array_equal(splits(3, 10, [0, 6])[2], split10)
    assert not np.array_equal(splits(4, 10, [0, 6])[2], split10)


def test_v0_categories_are_learnable():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    images, meta = E.generate(seed=1, image_size=32, images_per_object=4, variations=("V0",))
    grey = images.astype(np.float32).mean(axis=-1) / 255.0
    x = grey.reshape(len(grey), 16, 2, 16, 2).mean(axis=(2, 4)).reshape(len(grey), -1)
    y = meta["category_label"]
    train = meta["split"] == "train"
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    clf.fit(x[train], y[train])
    accuracy = clf.score(x[~train], y[~train])
    assert accuracy > 0.3, accuracy  # chance is 0.125


@pytest.mark.parametrize("kwargs, name", [
    (dict(image_size=8), "image_size"),
    (dict(image_size="64"), "image_size"),
    (dict(images_per_object=-1), "images_per_object"),
    (dict(images_per_object=0), "images_per_object"),
    (dict(seed=-1), "seed"),
    (dict(variations=("V9",)), "variations"),
    (dict(challenge_fraction=1.5), "challenge_fraction"),
    (dict(photo_fraction=-0.1), "photo_fraction"),
    (dict(split_fractions=(0.5, 0.5, 0.5)), "split_fractions"),
    (dict(supersample=0), "supersample"),
])
def test_bad_generator_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        E.generate(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(split="training"), "split"),
    (dict(batch_size=0), "batch_size"),
    (dict(label="colour"), "label"),
    (dict(image_size=4), "image_size"),
    (dict(images_per_object=-3), "images_per_object"),
])
def test_bad_dataset_arguments(kwargs, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        E.embedded_dataset(**{"cache_dir": tmp_path, **kwargs})


def test_tf_data_pipeline_and_cache(tmp_path, monkeypatch):
    cfg = dict(seed=2, image_size=16, images_per_object=2, variations=("V0", "V3"))
    images, meta = E.generate(**cfg)
    monkeypatch.setattr(E, "_MEMO", {})
    ds = E.embedded_dataset("test", batch_size=16, cache_dir=tmp_path, shuffle=False, **cfg)
    files = list(tmp_path.glob("hvm_like_*.npz"))
    assert len(files) == 1
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.concatenate(xs), np.concatenate(ys)
    test = meta["split"] == "test"
    assert x.dtype == np.uint8 and y.dtype == np.int32 and x.shape[1:] == (16, 16, 3)
    np.testing.assert_array_equal(x, images[test])
    np.testing.assert_array_equal(y, meta["category_label"][test])

    # a fresh process-level memo reads the cache file back: same bytes
    monkeypatch.setattr(E, "_MEMO", {})
    cached_images, cached_meta = E.load(cache_dir=tmp_path, **cfg)
    assert _digest(cached_images, cached_meta) == _digest(images, meta)

    train = E.embedded_dataset("train", batch_size=8, cache_dir=tmp_path, with_metadata=True,
                               label="object", drop_remainder=True, **cfg)
    n = 0
    for xb, yb, mb in train:
        assert xb.shape == (8, 16, 16, 3)
        np.testing.assert_array_equal(yb.numpy(), mb["object_label"].numpy())
        assert set(s.decode() for s in mb["split"].numpy()) == {"train"}
        n += 8
    assert n == (meta["split"] == "train").sum() // 8 * 8
    everything = E.embedded_dataset("all", batch_size=1000, cache_dir=False, **cfg)
    assert next(iter(everything))[0].shape[0] == len(images)


def test_photo_decoders_agree():
    pytest.importorskip("PIL")
    pil = _render.decode_photos("pillow")
    tf_ = _render.decode_photos("tensorflow")
    assert [p.shape for p in pil] == [(427, 640, 3)] * 2
    for a, b in zip(pil, tf_):
        np.testing.assert_array_equal(a, b)


def _read_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", None, None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    assert np.all(raw[:, 0] == 0)
    return raw[:, 1:].reshape(h, w, 3)


def test_contact_sheet_png(small, tmp_path):
    images, meta, _ = small
    sheet = E.contact_sheet(images, meta)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    assert sheet.shape[0] == 8 * (32 + 4 + 2) + 2
    assert np.any(np.all(sheet == (220, 30, 30), axis=-1))  # challenge frames
    path = tmp_path / "sheet.png"
    E.save_png(path, sheet)
    np.testing.assert_array_equal(_read_png(path.read_bytes()), sheet)
