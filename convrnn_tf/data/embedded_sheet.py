"""The embedded dataset's contact sheet, a dependency-free PNG writer and the command line.

``python -m convrnn_tf.data.embedded`` (:func:`main`) generates a dataset, prints how long it took and
writes a contact sheet. Everything here is re-exported by :mod:`convrnn_tf.data.embedded`.
"""

from __future__ import annotations

import pathlib
import struct
import time
import zlib

import numpy as np

from convrnn_tf.data._shapes import CATEGORY_NAMES, OBJECTS_PER_CATEGORY
from convrnn_tf.data.embedded_spec import NUM_CATEGORIES, SPLITS, VARIATIONS


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

    from convrnn_tf.data import embedded  # not at the top: embedded imports this module

    p = argparse.ArgumentParser(description=embedded.__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--images-per-object", type=int, default=10)
    p.add_argument("--contact-sheet", default="/tmp/embedded_contact_sheet.png")
    p.add_argument("--scale", type=int, default=2, help="contact sheet pixel repeat")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    images, meta = embedded.generate(seed=a.seed, image_size=a.image_size,
                                     images_per_object=a.images_per_object)
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

