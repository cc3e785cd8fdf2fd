"""Image presentation schedules: which frame the input node sees at each time step.

* ``constant``: the image at every step.
* ``movie``: the image for ``t < image_off``, then blank frames of value ``blank`` (default 0.5
  in the *normalised* input space, as the original's ``make_movie``).
* ``default``: the original's preset, a movie with ``image_off=12`` over 16 steps (6-node
  models) or 17 steps (11-node models).
* ``neural``: the original's neural/behaviour protocol, 26 steps with the image off at 10.
* ``video``: the caller supplies ``[B, T, H, W, C]`` frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from keras import ops

KINDS = ("constant", "movie", "default", "neural", "video")
_DEFAULT_TIMES = {6: 16, 11: 17}


@dataclass(frozen=True)
class Presentation:
    kind: str = "constant"  # constant | movie | video (presets resolve to these)
    image_off: int | None = None
    blank: float = 0.5

    def is_image(self, t: int) -> bool:
        """Whether frame ``t`` depends on the input (blank frames do not)."""
        return self.kind != "movie" or t < self.image_off

    def frame(self, inputs, t: int):
        """Frame ``t``: ``[B, H, W, C]``, or a ``[1, H, W, C]`` blank broadcast later."""
        if self.kind == "video":
            return inputs[:, t]
        if self.is_image(t):
            return inputs
        return ops.full((1,) + tuple(inputs.shape[1:]), self.blank, dtype=inputs.dtype)

    def to_dict(self):
        return asdict(self)


def resolve(presentation="constant", times=None, image_off=None, blank=0.5, num_nodes=None):
    """``(Presentation, times)`` from a preset name (or dict) and the caller's overrides.

    Raises a `ValueError` naming the argument for inconsistent combinations.
    """
    if isinstance(presentation, Presentation):
        presentation = presentation.to_dict()
    if isinstance(presentation, dict):
        d = dict(presentation)
        kind, image_off, blank = d.pop("kind", "constant"), d.pop("image_off", image_off), d.pop("blank", blank)
        if d:
            raise ValueError(f"presentation: unknown keys {sorted(d)}")
    else:
        kind = presentation
    if kind not in KINDS:
        raise ValueError(f"presentation must be one of {KINDS}, got {kind!r}")
    if isinstance(blank, bool) or not isinstance(blank, (int, float)):
        raise ValueError(f"presentation blank must be a number, got {blank!r}")
    if kind == "default":
        if times is None:
            if num_nodes not in _DEFAULT_TIMES:
                raise ValueError(
                    f"the 'default' presentation fixes times only for 6- or 11-node models "
                    f"(this one has {num_nodes} nodes); pass times="
                )
            times = _DEFAULT_TIMES[num_nodes]
        kind, image_off = "movie", 12 if image_off is None else image_off
    elif kind == "neural":
        times = 26 if times is None else times
        kind, image_off = "movie", 10 if image_off is None else image_off
    elif kind == "movie" and image_off is None:
        raise ValueError("the 'movie' presentation needs image_off (the first blank step)")
    elif kind in ("constant", "video") and image_off is not None:
        raise ValueError(f"image_off is meaningless for the {kind!r} presentation")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be a positive int, got {times!r}")
    if image_off is not None and (not isinstance(image_off, int) or image_off < 0):
        raise ValueError(f"image_off must be a non-negative int, got {image_off!r}")
    return Presentation(kind, image_off, float(blank)), times
