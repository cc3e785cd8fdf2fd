"""Procedural 3-D objects for the embedded dataset: unions of ellipsoids built from category plans.

Each of the 8 categories has a *plan*: a function that lays out a few ellipsoid parts (a body, legs, a
mast, ...). The plan's continuous parameters are drawn once per category from a category random stream
(the *prototype*); every object of the category re-runs the plan with the same prototype and then gets
its own structural choices (optional parts), a global anisotropic stretch, per-part jitter of position,
size and orientation, and its own colour. Objects of a category therefore share a layout but differ.

Object frame: x to the right, y up, z away from the camera (the canonical front faces -z). Objects are
centred on the centre of their bounding box and scaled so that their bounding sphere has radius
``OBJECT_RADIUS`` (image coordinates span [-1, 1]).
"""

from __future__ import annotations

import dataclasses

import numpy as np

CATEGORY_NAMES = ("animals", "boats", "cars", "chairs", "faces", "fruits", "planes", "tables")
OBJECTS_PER_CATEGORY = 8
OBJECT_RADIUS = 0.78

# Random-stream tags (first entries of the SeedSequence entropy after the user seed).
STREAM_CATEGORY = 101
STREAM_OBJECT = 102


def rotation_matrix(rx: float, ry: float, rz: float) -> np.ndarray:
    """``Rz(rz) @ Rx(rx) @ Ry(ry)`` for angles in radians (right-handed, y up, z into the screen)."""
    cx, sx = np.cos(rx), np.sin(rx)
    cy, sy = np.cos(ry), np.sin(ry)
    cz, sz = np.cos(rz), np.sin(rz)
    mx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    my = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    mz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return mz @ mx @ my


@dataclasses.dataclass(frozen=True)
class Shape:
    """A union of ellipsoids in the object frame.

    ``centers`` [K, 3]; ``axes`` [K, 3, 3] maps the unit sphere to each ellipsoid
    (``rotation @ diag(radii)``); ``albedo`` [K, 3] in [0, 1].
    """

    centers: np.ndarray
    axes: np.ndarray
    albedo: np.ndarray

    @property
    def num_parts(self) -> int:
        return int(self.centers.shape[0])


class _Parts:
    """Accumulates (center, radii, euler-degrees) parts while a plan runs."""

    def __init__(self):
        self.items: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []

    def add(self, center, radii, angles_deg=(0.0, 0.0, 0.0), tone=1.0):
        """A part; ``tone`` scales the object's colour (dark eyes, wheels, ...)."""
        self.items.append((np.asarray(center, float), np.asarray(radii, float),
                           np.asarray(angles_deg, float), float(tone)))


def _legs(parts: _Parts, half_x, half_z, top_y, length, thickness):
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            parts.add((sx * half_x, top_y - length, sz * half_z), (thickness, length, thickness))


def _plan_animals(c: np.random.Generator, o: np.random.Generator, parts: _Parts):
    length, height, width = c.uniform(0.42, 0.6), c.uniform(0.18, 0.26), c.uniform(0.16, 0.24)
    leg = c.uniform(0.16, 0.28)
    head = c.uniform(0.12, 0.17)
    neck_up = c.uniform(0.6, 1.4)
    parts.add((0, 0, 0), (length, height, width))
    parts.add((length * 0.95, height * neck_up, 0), (head * 1.25, head, head * 0.9))
    _legs(parts, length * 0.6, width * 0.55, -height * 0.6, leg, 0.05)
    if o.random() < 0.7:  # tail
        parts.add((-length * 1.05, height * 0.45, 0), (0.16, 0.035, 0.035), (0, 0, -35))
    if o.random() < 0.4:  # ears / horns
        for sz in (-1, 1):
            parts.add((length * 0.98, height * neck_up + head * 0.95, sz * head * 0.5),
                      (0.03, 0.08, 0.03), (sz * 15, 0, 10))


def _plan_boats(c, o, parts):
    length, depth, beam = c.uniform(0.6, 0.8), c.uniform(0.1, 0.15), c.uniform(0.18, 0.26)
    cabin = c.uniform(0.15, 0.28)
    mast = c.uniform(0.3, 0.45)
    parts.add((0, 0, 0), (length, depth, beam), tone=0.7)
    parts.add((-0.15 * length, depth + 0.06, 0), (cabin, 0.1, beam * 0.7), tone=1.15)
    if o.random() < 0.75:
        parts.add((0.2 * length, depth + mast, 0), (0.025, mast, 0.025))
        if o.random() < 0.6:  # sail
            parts.add((0.2 * length + 0.14, depth + mast * 0.9, 0), (0.14, mast * 0.75, 0.012))
    else:  # funnel
        parts.add((0.1 * length, depth + 0.2, 0), (0.06, 0.14, 0.06))


def _plan_cars(c, o, parts):
    length, height, width = c.uniform(0.55, 0.7), c.uniform(0.16, 0.2), c.uniform(0.25, 0.3)
    cabin = c.uniform(0.25, 0.38)
    wheel = c.uniform(0.14, 0.18)
    parts.add((0, 0, 0), (length, height, width))
    parts.add((-0.08 * length + o.uniform(-0.1, 0.1), height + 0.05, 0), (cabin, 0.15, width * 0.85),
              tone=1.2)
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            parts.add((sx * length * 0.6, -height * 0.9, sz * width * 0.92), (wheel, wheel, 0.07),
                      tone=0.25)
    if o.random() < 0.3:  # spoiler
        parts.add((-length * 0.95, height + 0.05, 0), (0.06, 0.02, width * 0.9))


def _plan_chairs(c, o, parts):
    seat, back, leg = c.uniform(0.26, 0.34), c.uniform(0.26, 0.4), c.uniform(0.2, 0.28)
    parts.add((0, 0, 0), (seat, 0.04, seat))
    parts.add((-seat * 0.92, back, 0), (0.04, back, seat * 0.95), (0, 0, o.uniform(-12, 3)))
    _legs(parts, seat * 0.8, seat * 0.8, -0.02, leg, 0.035)
    if o.random() < 0.4:  # arm rests
        for sz in (-1, 1):
            parts.add((0, 0.16, sz * seat * 0.95), (seat * 0.85, 0.03, 0.03))


def _plan_faces(c, o, parts):
    w, h, d = c.uniform(0.34, 0.42), c.uniform(0.45, 0.55), c.uniform(0.36, 0.44)
    parts.add((0, 0, 0), (w, h, d))
    parts.add((0, -0.03, -d * 0.95), (0.07, 0.12, 0.1))  # nose
    parts.add((0, -h * 0.45, -d * 0.8), (w * 0.35, 0.035, 0.06), tone=0.45)  # mouth
    for sx in (-1, 1):
        parts.add((sx * w * 0.38, h * 0.22, -d * 0.85), (0.075, 0.06, 0.07), tone=0.2)  # eyes
        parts.add((sx * w * 1.0, 0.02, 0), (0.05, 0.12, 0.08))  # ears
    if o.random() < 0.5:  # hair / hat
        parts.add((0, h * 0.75, 0.05), (w * 1.05, h * 0.4, d * 1.02), tone=0.5)
    if o.random() < 0.4:  # chin / beard
        parts.add((0, -h * 0.78, -d * 0.45), (w * 0.55, h * 0.3, d * 0.45))


def _plan_fruits(c, o, parts):
    r, squash = c.uniform(0.36, 0.44), c.uniform(0.8, 1.15)
    parts.add((0, 0, 0), (r, r * squash, r))
    top = r * squash
    if o.random() < 0.5:  # pear-like second lobe
        lobe = r * o.uniform(0.55, 0.75)
        parts.add((0, top * 0.85, 0), (lobe, lobe * 1.1, lobe))
        top = top * 0.85 + lobe * 1.1
    parts.add((0, top + 0.06, 0), (0.025, 0.09, 0.025), (0, 0, 10), tone=0.4)
    if o.random() < 0.7:  # leaf
        parts.add((0.1, top + 0.05, 0), (0.14, 0.02, 0.07), (0, 20, 25), tone=0.6)


def _plan_planes(c, o, parts):
    length, body = c.uniform(0.7, 0.85), c.uniform(0.07, 0.1)
    span, chord = c.uniform(0.55, 0.75), c.uniform(0.12, 0.18)
    parts.add((0, 0, 0), (length, body, body))
    parts.add((0.05, -body * 0.3, 0), (chord, 0.022, span), (0, o.uniform(-15, 15), 0))
    parts.add((-length * 0.88, 0.03, 0), (0.07, 0.018, span * 0.35))
    parts.add((-length * 0.88, body + 0.1, 0), (0.1, 0.13, 0.018), (0, 0, 20))
    if o.random() < 0.5:  # engines
        for sz in (-1, 1):
            parts.add((0.12, -body - 0.05, sz * span * 0.45), (0.1, 0.04, 0.04))


def _plan_tables(c, o, parts):
    length, width, leg = c.uniform(0.5, 0.62), c.uniform(0.3, 0.4), c.uniform(0.27, 0.36)
    parts.add((0, 0, 0), (length, 0.045, width), tone=1.1)
    if o.random() < 0.75:
        _legs(parts, length * 0.82, width * 0.78, -0.02, leg, 0.04)
    else:  # pedestal table
        parts.add((0, -leg, 0), (0.06, leg, 0.06))
        parts.add((0, -2 * leg, 0), (length * 0.45, 0.03, width * 0.6))


_PLANS = (_plan_animals, _plan_boats, _plan_cars, _plan_chairs,
          _plan_faces, _plan_fruits, _plan_planes, _plan_tables)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def make_object(seed: int, category: int, index: int) -> Shape:
    """Object ``index`` (0-7) of ``category`` (0-7), deterministic in ``seed``."""
    cat_rng = np.random.default_rng([seed, STREAM_CATEGORY, category])
    obj_rng = np.random.default_rng([seed, STREAM_OBJECT, category, index])
    parts = _Parts()
    _PLANS[category](cat_rng, obj_rng, parts)

    stretch = np.exp(obj_rng.normal(0.0, 0.12, size=3))
    centers, axes, tones = [], [], []
    for center, radii, angles, tone in parts.items:
        center = center * stretch + obj_rng.normal(0.0, 0.025, size=3)
        radii = radii * stretch * np.exp(obj_rng.normal(0.0, 0.12, size=3))
        angles = angles + obj_rng.normal(0.0, 6.0, size=3)
        rot = rotation_matrix(*np.deg2rad(angles))
        centers.append(center)
        axes.append(rot * radii[None, :])
        tones.append(tone)
    centers, axes = np.array(centers), np.array(axes)

    half = np.sqrt((axes ** 2).sum(axis=2))  # axis-aligned half extents [K, 3]
    lo, hi = (centers - half).min(axis=0), (centers + half).max(axis=0)
    centers = centers - (lo + hi) / 2.0
    bound = (np.linalg.norm(centers, axis=1) + np.sqrt((axes ** 2).sum(axis=1)).max(axis=1)).max()
    scale = OBJECT_RADIUS / bound
    centers, axes = centers * scale, axes * scale

    base = _hsv_to_rgb(obj_rng.random(), obj_rng.uniform(0.0, 0.5), obj_rng.uniform(0.55, 0.9))
    jitter = obj_rng.uniform(0.85, 1.1, size=len(centers))
    albedo = np.clip(base[None, :] * (np.array(tones) * jitter)[:, None], 0.0, 1.0)
    return Shape(centers=centers, axes=axes, albedo=albedo)


def make_distractor(rng: np.random.Generator) -> Shape:
    """A random clutter blob of 1-3 ellipsoids (no category plan), bounding radius ~0.15-0.3."""
    n = int(rng.integers(1, 4))
    centers = rng.normal(0.0, 0.08, size=(n, 3))
    axes = np.array([rotation_matrix(*rng.uniform(-np.pi, np.pi, 3)) * rng.uniform(0.05, 0.18, 3)
                     for _ in range(n)])
    base = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.35, 0.95))
    albedo = np.repeat(base[None, :], n, axis=0)
    return Shape(centers=centers, axes=axes, albedo=albedo)
