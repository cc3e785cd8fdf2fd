"""What the embedded dataset is: its names, pose ranges, metadata schema and generator config.

The constants and :class:`Config` (a full, validated generator configuration) behind
:mod:`convrnn_tf.data.embedded`, which re-exports every name here; import them from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator

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

