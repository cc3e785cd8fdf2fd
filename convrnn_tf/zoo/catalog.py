"""The 20 original models by name, and what the original reports about each, without building.

Sources (the project's ``original-convrnns.md``): cells per layer (section 2.2, 4.9), presentation
and times (7.2), decoders and windows (6.1), layer start times and brain areas (7.3, 7.4),
parameter counts (5.5) and ImageNet accuracy (8.1).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

CELLS = ("timedecay", "simplernn", "lstm", "gru", "intersectionrnn", "ugrnn", "rgc")
DEPTHS = ("shallow", "intermediate")
_VARIANTS = (
    ("rgc_intermediate_tmaxconf", "rgc_intermediate"),
    ("rgc_intermediate_dthresh", "rgc_intermediate"),
    ("rgc_intermediate_t22_tmaxconf", "rgc_intermediate_t22"),
    ("ugrnn_intermediate_t30", "ugrnn_intermediate_t30"),
    ("ugrnn_intermediate_t30_tmaxconf", "ugrnn_intermediate_t30"),
    ("ugrnn_intermediate_t30_dthresh", "ugrnn_intermediate_t30"),
)

#: The 20 model names of the original zoo, in the order of its README: the 14 base models
#: (shallow, then intermediate, each in cell order), then the time/decoder variants.
NAMES = tuple(f"{c}_{d}" for d in DEPTHS for c in CELLS) + tuple(v for v, _ in _VARIANTS)
_SPEC_OF = {**{n: n for n in NAMES[:14]}, **dict(_VARIANTS)}

#: Section 5.5: parameters the original graph creates, excluding ``memory_decay`` and decoder scalars.
DOC_PARAMS = {
    "timedecay_shallow": 4_197_736,
    "simplernn_shallow": 6_272_872,
    "lstm_shallow": 21_126_248,
    "gru_shallow": 25_434_472,
    "intersectionrnn_shallow": 32_513_384,
    "ugrnn_shallow": 18_355_560,
    "rgc_shallow": 23_956_840,
    "timedecay_intermediate": 16_403_432,
    "simplernn_intermediate": 33_512_936,
    "lstm_intermediate": 84_832_232,
    "gru_intermediate": 67_725_032,
    "intersectionrnn_intermediate": 84_832_232,
    "ugrnn_intermediate": 50_617_832,
    "rgc_intermediate": 15_445_800,
}

#: What ``count_params`` gives for each base model here (checked by the tests). Equal to
#: `DOC_PARAMS` once lstm_shallow's per-layer overrides and rgc_intermediate's feedback are in.
MEASURED_PARAMS = dict(DOC_PARAMS)

#: Section 8.1: ImageNet validation (top-1 %, top-5 %) as reported by the original README.
ACCURACY = {
    "timedecay_shallow": (50.06, 72.97),
    "simplernn_shallow": (61.11, 83.15),
    "gru_shallow": (62.16, 84.02),
    "lstm_shallow": (63.43, 84.89),
    "intersectionrnn_shallow": (65.42, 86.02),
    "ugrnn_shallow": (60.82, 83.23),
    "rgc_shallow": (66.97, 87.02),
    "timedecay_intermediate": (67.52, 87.80),
    "simplernn_intermediate": (70.47, 89.48),
    "gru_intermediate": (69.81, 89.25),
    "lstm_intermediate": (69.57, 89.18),
    "intersectionrnn_intermediate": (68.98, 88.67),
    "ugrnn_intermediate": (69.78, 89.21),
    "ugrnn_intermediate_t30": (70.09, 89.29),
    "ugrnn_intermediate_t30_dthresh": (69.30, 88.97),
    "ugrnn_intermediate_t30_tmaxconf": (70.04, 89.29),
    "rgc_intermediate": (73.00, 91.16),
    "rgc_intermediate_dthresh": (71.81, 90.16),
    "rgc_intermediate_tmaxconf": (72.29, 90.52),
    "rgc_intermediate_t22_tmaxconf": (72.98, 90.80),
}

#: Section 7.4: model layers matched to ventral-stream areas.
AREAS = {
    "shallow": {"V4": ("conv3",), "pIT": ("conv4",), "cIT/aIT": ("conv5",)},
    "intermediate": {"V4": ("conv5", "conv6"), "pIT": ("conv7", "conv8"), "cIT/aIT": ("conv9", "conv10")},
}
_NUM_NODES = {"shallow": 6, "intermediate": 11}
_RECURRENT = {"shallow": ("conv3", "conv4", "conv5"),
              "intermediate": tuple(f"conv{i}" for i in range(4, 11))}
_IMAGE_OFF = 12
_DEFAULT_TIMES = {"shallow": 16, "intermediate": 17}
_DECODERS = {"tmaxconf": ("max_conf", True), "dthresh": ("thresh", False)}


@dataclass(frozen=True)
class ModelInfo:
    """What the original zoo says about one model. Build it with `convrnn_tf.zoo.build`."""

    name: str
    spec: str  #: the shipped JSON graph spec it is built from (``zoo.load_spec``)
    cell: str  #: the recurrent cell of ``recurrent_layers`` (timedecay: a learned decay)
    depth: str  #: "shallow" (6 nodes) or "intermediate" (11 nodes)
    num_nodes: int
    recurrent_layers: tuple  #: the layers that get ``cell``; the others keep a frozen zero decay
    feedback_edges: tuple  #: long-range ``(source, target)`` edges added to the JSON's chain
    times: int  #: default number of time steps
    presentation: str  #: default schedule: "movie" (image, then blank from ``image_off``) or "constant"
    image_off: int | None  #: first blank step of the default movie; None for constant
    decoder: str  #: temporal decoder name (`convrnn_tf.decoders`)
    decoder_trainable: bool  #: whether the decoder's temperature / threshold are learned
    decoder_window: tuple  #: decoded steps ``(start, end)``, end exclusive
    layer_start_times: dict  #: the original's per-layer output start step (section 7.3)
    areas: dict  #: brain area -> layers (section 7.4)
    params: int  #: the doc's section 5.5 count (no ``memory_decay`` or decoder scalars)
    params_measured: int  #: the same count on the model built here
    top1: float  #: reported ImageNet top-1 (%)
    top5: float  #: reported ImageNet top-5 (%)

    @property
    def variant(self) -> str | None:
        """The decoder suffix ("tmaxconf" / "dthresh"), or None."""
        for suffix in _DECODERS:
            if self.name.endswith("_" + suffix):
                return suffix
        return None

    def area_of(self, layer: str) -> str | None:
        """The brain area of ``layer`` (e.g. "V4"), or None when it has none."""
        for area, layers in self.areas.items():
            if layer in layers:
                return area
        return None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def names() -> tuple:
    """The 20 model names, in the original README's order."""
    return NAMES


def check_name(name) -> str:
    """``name`` if it is a zoo model; otherwise one ValueError that lists the valid names."""
    if isinstance(name, str) and name in _SPEC_OF:
        return name
    hint = ""
    if isinstance(name, str):
        close = difflib.get_close_matches(name, NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown zoo model {name!r}{hint}; valid names: {', '.join(NAMES)}")


def _feedback_edges(cell, depth):
    if (cell, depth) != ("rgc", "intermediate"):
        return ()
    from convrnn_tf.zoo import load_config

    return tuple(tuple(e) for e in load_config("median_rgcell")["feedback_edges_rgc_intermediate"])


def info(name) -> ModelInfo:
    """Metadata of the zoo model ``name`` (cheap: nothing is built)."""
    name = check_name(name)
    spec = _SPEC_OF[name]
    cell, depth = spec.split("_")[:2]
    num_nodes = _NUM_NODES[depth]
    timed = "_t22" in name or "_t30" in name
    times = 22 if "_t22" in name else 30 if "_t30" in name else _DEFAULT_TIMES[depth]
    variant = next((s for s in _DECODERS if name.endswith("_" + s)), None)
    decoder, trainable = _DECODERS.get(variant, ("last", False))
    window = (times - 1, times) if decoder == "last" else (num_nodes, times)
    starts = {f"conv{i}": i for i in range(1, num_nodes)}
    starts["imnetds"] = num_nodes
    top1, top5 = ACCURACY[name]
    base = spec.replace("_t22", "").replace("_t30", "")
    return ModelInfo(
        name=name, spec=spec, cell=cell, depth=depth, num_nodes=num_nodes,
        recurrent_layers=_RECURRENT[depth], feedback_edges=_feedback_edges(cell, depth),
        times=times, presentation="constant" if timed else "movie",
        image_off=None if timed else _IMAGE_OFF, decoder=decoder, decoder_trainable=trainable,
        decoder_window=window, layer_start_times=starts,
        areas={a: tuple(ls) for a, ls in AREAS[depth].items()},
        params=DOC_PARAMS[base], params_measured=MEASURED_PARAMS[base], top1=top1, top5=top5,
    )


def markdown_table(models=None) -> str:
    """The zoo as a Markdown table: name, cell, depth, feedback edges, params, steps, decoder, accuracy."""
    rows = [
        "| model | cell | depth | feedback edges | params | time steps | decoder | top-1 | top-5 |",
        "|---|---|---|---|---:|---|---|---:|---:|",
    ]
    for name in NAMES if models is None else models:
        m = info(name)
        fb = ", ".join(f"{a}→{b}" for a, b in m.feedback_edges) or "–"
        steps = f"{m.times} (constant)" if m.presentation == "constant" else f"{m.times} (image off at {m.image_off})"
        params = f"{m.params_measured:,}"
        if m.params_measured != m.params:
            params += f" (doc {m.params:,})"
        dec = m.decoder if m.decoder == "last" else (
            f"{m.decoder} (learned β), steps {m.decoder_window[0]}–{m.decoder_window[1] - 1}" if m.decoder_trainable
            else f"{m.decoder}, steps {m.decoder_window[0]}–{m.decoder_window[1] - 1}")
        rows.append(f"| {m.name} | {m.cell} | {m.depth} | {fb} | {params} | {steps} | {dec} "
                    f"| {m.top1:.2f}% | {m.top5:.2f}% |")
    return "\n".join(rows) + "\n"
