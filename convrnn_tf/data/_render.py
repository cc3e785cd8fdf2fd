"""NumPy rendering for the embedded dataset: ray-cast ellipsoids, shading, backgrounds, occluders.

The camera is orthographic and looks along +z; the image plane spans [-1, 1] in x (right) and y (up).
A pixel's ray hits ellipsoid ``{c + A u : |u| <= 1}`` where ``|M (p - c)| = 1`` with ``M = A^-1``;
along the ray ``p = (x, y, t)`` this is a quadratic in ``t``, solved in closed form, and the nearest
hit over all ellipsoids wins (a z-buffer). Each ellipsoid is only evaluated inside the bounding box of
its projection. The surface normal is ``M^T M (p - c)``. Shading is Lambertian with an ambient term and
a weak Blinn-Phong highlight. Rendering is done on a supersampled grid and box-filtered (anti-aliasing).
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np

LIGHT = np.array([-0.45, 0.6, -0.66])
LIGHT = LIGHT / np.linalg.norm(LIGHT)
HALF = LIGHT + np.array([0.0, 0.0, -1.0])
HALF = HALF / np.linalg.norm(HALF)
AMBIENT, DIFFUSE, SPECULAR, SHININESS = 0.3, 0.75, 0.18, 24.0


def pixel_centers(size: int) -> np.ndarray:
    """Coordinates of ``size`` pixel centres along an axis spanning [-1, 1]."""
    return -1.0 + (2.0 * np.arange(size) + 1.0) / size


def render(centers, axes, albedo, item, size: int, supersample: int):
    """Ray-cast a union of ellipsoids.

    Args:
      centers: [K, 3] world centres; axes: [K, 3, 3] unit-sphere-to-ellipsoid maps; albedo: [K, 3];
      item: [K] int layer id of each part (0 = the object, >0 distractors).
      size: output size in pixels; supersample: rays per pixel along each axis.

    Returns:
      premult [size, size, 3] (colour times coverage), coverage [size, size] of anything, and
      object_coverage [size, size] (fraction of each pixel showing item 0, the object).
    """
    s = size * supersample
    coords = pixel_centers(s)
    zbuf = np.full((s, s), np.inf)
    part_id = np.full((s, s), -1, dtype=np.int64)
    inv = np.linalg.inv(axes)  # [K, 3, 3]
    for k in range(len(centers)):
        a, m, c = axes[k], inv[k], centers[k]
        ex, ey = np.sqrt((a[0] ** 2).sum()), np.sqrt((a[1] ** 2).sum())
        # pixel index ranges whose centres can hit the ellipsoid (x -> columns, y -> rows, y up)
        c0 = max(int(np.floor(((c[0] - ex) + 1.0) * s / 2.0 - 0.5)), 0)
        c1 = min(int(np.ceil(((c[0] + ex) + 1.0) * s / 2.0 - 0.5)) + 1, s)
        r0 = max(int(np.floor((1.0 - (c[1] + ey)) * s / 2.0 - 0.5)), 0)
        r1 = min(int(np.ceil((1.0 - (c[1] - ey)) * s / 2.0 - 0.5)) + 1, s)
        if c0 >= c1 or r0 >= r1:
            continue
        dx = coords[c0:c1][None, :] - c[0]
        dy = -coords[r0:r1][:, None] - c[1]  # row j is at y = -coords[j] (y up)
        # along the ray p = (x, y, t): q(t) = M (p - c) = u + t m3 with u = m1 dx + m2 dy - m3 cz;
        # |q|^2 = 1 gives aa t^2 + 2 bb t + cc = 0, with bb, cc polynomials in dx, dy.
        m1, m2, m3 = m[:, 0], m[:, 1], m[:, 2]
        w = -m3 * c[2]
        aa = m3 @ m3
        bb = (m3 @ m1) * dx + (m3 @ m2) * dy + m3 @ w
        cc = ((m1 @ m1) * dx + 2.0 * (m1 @ w)) * dx + ((m2 @ m2) * dy + 2.0 * (m2 @ w)) * dy \
            + (2.0 * (m1 @ m2)) * dx * dy + (w @ w - 1.0)
        disc = bb * bb - aa * cc
        hit = disc > 0.0
        t = (-bb - np.sqrt(np.maximum(disc, 0.0))) / aa
        zsub = zbuf[r0:r1, c0:c1]
        win = hit & (t < zsub)
        zsub[win] = t[win]
        part_id[r0:r1, c0:c1][win] = k

    hit = part_id >= 0
    rows, cols = np.nonzero(hit)
    k = part_id[rows, cols]
    # normal = M^T M (p - c) at the hit point p = (x, y, z)
    p = np.stack([coords[cols], -coords[rows], zbuf[rows, cols]], axis=-1) - centers[k]
    gram = np.einsum("kji,kjl->kil", inv, inv)  # M^T M per part
    n = np.einsum("nij,nj->ni", gram[k], p)
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    lam = np.clip(n @ LIGHT, 0.0, None)
    spec = np.clip(n @ HALF, 0.0, None) ** SHININESS
    colour = np.zeros((s, s, 3))
    colour[rows, cols] = albedo[k] * (AMBIENT + DIFFUSE * lam)[:, None] + (SPECULAR * spec)[:, None]
    obj = np.zeros((s, s))
    obj[rows, cols] = np.asarray(item)[k] == 0
    return _pool(colour, supersample), _pool(hit.astype(np.float64), supersample), _pool(obj, supersample)


def _pool(x: np.ndarray, f: int) -> np.ndarray:
    """Box-filter the first two (spatial) axes by ``f`` (sums of strided slices: fast in NumPy)."""
    if f == 1:
        return x
    out = x[0::f, 0::f].copy()
    for i in range(f):
        for j in range(f):
            if i or j:
                out += x[i::f, j::f]
    return out / (f * f)


# ---------------------------------------------------------------------------------------------------
# Backgrounds


def pink_noise(rng: np.random.Generator, size: int, channels: int, exponent: float) -> np.ndarray:
    """Zero-mean, unit-std noise with amplitude spectrum ``1 / f**exponent``: [size, size, channels]."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = f ** (-exponent)
    amp[0, 0] = 0.0
    spec = amp[None] * (rng.normal(size=(channels,) + f.shape) + 1j * rng.normal(size=(channels,) + f.shape))
    field = np.fft.irfft2(spec, s=(size, size), axes=(1, 2))
    field = field - field.mean(axis=(1, 2), keepdims=True)
    field = field / (field.std(axis=(1, 2), keepdims=True) + 1e-12)
    return np.moveaxis(field, 0, -1)


def noise_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A coloured 1/f texture in [0, 1]: [size, size, 3]."""
    field = pink_noise(rng, size, 3, rng.uniform(0.9, 1.6))
    mean = rng.uniform(0.25, 0.7) + rng.uniform(-0.08, 0.08, size=3)
    contrast = rng.uniform(0.08, 0.2)
    chroma = rng.uniform(0.05, 0.35)
    lum = field[..., :1]
    img = mean + contrast * (lum + chroma * (field - field.mean(axis=-1, keepdims=True)))
    return np.clip(img, 0.0, 1.0)


PHOTO_NAMES = ("china.jpg", "flower.jpg")


def decode_photos(decoder: str = "auto") -> list[np.ndarray]:
    """The two photos that ship with scikit-learn, uint8 [427, 640, 3] each, in ``PHOTO_NAMES`` order.

    ``decoder="pillow"`` uses ``sklearn.datasets.load_sample_images()`` (needs Pillow);
    ``"tensorflow"`` decodes scikit-learn's installed JPEG files with ``tf.io.decode_jpeg`` using the
    accurate integer DCT, which gives the same bytes as Pillow's libjpeg; ``"auto"`` tries Pillow first.
    Nothing is downloaded either way.
    """
    if decoder in ("auto", "pillow"):
        try:
            import PIL  # noqa: F401  (load_sample_images needs it)
            from sklearn.datasets import load_sample_images
        except ImportError:
            if decoder == "pillow":
                raise
        else:
            data = load_sample_images()
            by_name = {pathlib.Path(f).name: img for f, img in zip(data.filenames, data.images)}
            return [np.asarray(by_name[n], dtype=np.uint8) for n in PHOTO_NAMES]
    import sklearn.datasets
    import tensorflow as tf

    folder = pathlib.Path(sklearn.datasets.__file__).parent / "images"
    out = []
    for name in PHOTO_NAMES:
        raw = tf.io.read_file(str(folder / name))
        out.append(tf.io.decode_jpeg(raw, channels=3, dct_method="INTEGER_ACCURATE").numpy())
    return out


@functools.lru_cache(maxsize=1)
def photo_pyramids() -> tuple:
    """The scikit-learn photos as float pyramids in [0, 1] (each level half the size of the last)."""
    pyramids = []
    for photo in decode_photos():
        levels = [photo.astype(np.float64) / 255.0]
        while min(levels[-1].shape[:2]) >= 64:
            x = levels[-1]
            h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
            levels.append(x[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3)))
        pyramids.append(tuple(levels))
    return tuple(pyramids)


def _bilinear(img: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample ``img`` [H, W, 3] at the grid ``ys`` x ``xs`` (pixel units)."""
    h, w = img.shape[:2]
    ys = np.clip(ys, 0.0, h - 1.0)
    xs = np.clip(xs, 0.0, w - 1.0)
    y0 = np.minimum(np.floor(ys).astype(np.int64), h - 2)
    x0 = np.minimum(np.floor(xs).astype(np.int64), w - 2)
    wy = (ys - y0)[:, None, None]
    wx = (xs - x0)[None, :, None]
    a = img[y0][:, x0]
    b = img[y0][:, x0 + 1]
    c = img[y0 + 1][:, x0]
    d = img[y0 + 1][:, x0 + 1]
    return (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy


def photo_background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """A random square crop of a scikit-learn photo, flipped and jittered: ([size, size, 3], photo)."""
    pyramids = photo_pyramids()
    which = int(rng.integers(len(pyramids)))
    full = pyramids[which][0]
    side = rng.uniform(0.2, 0.65) * min(full.shape[:2])  # crop side in full-resolution pixels
    y = rng.uniform(0.0, full.shape[0] - side)
    x = rng.uniform(0.0, full.shape[1] - side)
    # pick the pyramid level whose pixels are at most ~1.5 output pixels (limits aliasing)
    level = 0
    while level + 1 < len(pyramids[which]) and side / 2 ** (level + 1) >= size / 1.5:
        level += 1
    img = pyramids[which][level]
    f = 2.0 ** level
    ys = (y + (np.arange(size) + 0.5) * side / size) / f - 0.5
    xs = (x + (np.arange(size) + 0.5) * side / size) / f - 0.5
    out = _bilinear(img, ys, xs)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    gain, bias = rng.uniform(0.6, 1.05), rng.uniform(-0.05, 0.1)
    sat = rng.uniform(0.4, 1.0)
    grey = out.mean(axis=-1, keepdims=True)
    out = grey + sat * (out - grey)
    return np.clip(out * gain + bias, 0.0, 1.0), which


# ---------------------------------------------------------------------------------------------------
# Occluders


def blob_coverage(rng: np.random.Generator, size: int, center, radius: float,
                  supersample: int) -> np.ndarray:
    """Coverage [size, size] of a smooth random blob (a wobbly ellipse) at ``center`` (image coords)."""
    s = size * supersample
    coords = pixel_centers(s)
    dx = coords[None, :] - center[0]
    dy = -coords[:, None] - center[1]
    ang = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.6, 1.0)
    u = dx * np.cos(ang) + dy * np.sin(ang)
    v = (-dx * np.sin(ang) + dy * np.cos(ang)) / aspect
    theta = np.arctan2(v, u)
    wobble = np.ones_like(theta)
    for harmonic in (2, 3, 5):
        wobble += rng.uniform(0.0, 0.12) * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    inside = np.sqrt(u * u + v * v) <= radius * wobble / np.sqrt(aspect)
    return _pool(inside.astype(np.float64), supersample)
