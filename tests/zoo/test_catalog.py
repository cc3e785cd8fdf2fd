"""Zoo metadata without building: names, per-model facts, the Markdown table and its doc page.

Reference numbers are typed in from the project's ``original-convrnns.md`` (sections 4.9, 5.5,
6.1, 7.2-7.4, 8.1); where the shared doc is present its tables are also parsed and compared.
"""

import re

import pytest

from convrnn_tf import zoo
from tests.conftest import REPO

BASE = [f"{c}_{d}" for d in ("shallow", "intermediate")
        for c in ("timedecay", "simplernn", "lstm", "gru", "intersectionrnn", "ugrnn", "rgc")]
VARIANTS = ["rgc_intermediate_tmaxconf", "rgc_intermediate_dthresh", "rgc_intermediate_t22_tmaxconf",
            "ugrnn_intermediate_t30", "ugrnn_intermediate_t30_tmaxconf", "ugrnn_intermediate_t30_dthresh"]
RGC_FEEDBACK = {("conv8", "conv5"), ("conv9", "conv6"), ("conv10", "conv7"), ("conv7", "conv6"),
                ("conv10", "conv9")}


def test_the_twenty_names():
    assert len(zoo.names()) == 20
    assert set(zoo.names()) == set(BASE + VARIANTS)
    assert zoo.list() == zoo.names()
    assert len(zoo.spec_names()) == 16 and isinstance(zoo.spec_names(), list)  # builtin list intact


@pytest.mark.parametrize("name", BASE + VARIANTS)
def test_info_basics(name):
    m = zoo.info(name)
    cell, depth = name.split("_")[:2]
    assert (m.name, m.cell, m.depth) == (name, cell, depth)
    assert m.num_nodes == {"shallow": 6, "intermediate": 11}[depth]
    assert m.recurrent_layers == {"shallow": ("conv3", "conv4", "conv5"),
                                  "intermediate": tuple(f"conv{i}" for i in range(4, 11))}[depth]
    assert set(m.feedback_edges) == (RGC_FEEDBACK if name.startswith("rgc_intermediate") else set())
    # Section 7.3: conv<l> reports from step l, the readout from num_layers.
    want = {f"conv{i}": i for i in range(1, m.num_nodes)}
    want["imnetds"] = m.num_nodes
    assert m.layer_start_times == want
    assert m.to_dict()["name"] == name


@pytest.mark.parametrize("name,times,presentation,image_off", [
    ("timedecay_shallow", 16, "movie", 12),
    ("rgc_shallow", 16, "movie", 12),
    ("lstm_intermediate", 17, "movie", 12),
    ("rgc_intermediate", 17, "movie", 12),
    ("rgc_intermediate_dthresh", 17, "movie", 12),
    ("rgc_intermediate_t22_tmaxconf", 22, "constant", None),
    ("ugrnn_intermediate_t30", 30, "constant", None),
    ("ugrnn_intermediate_t30_dthresh", 30, "constant", None),
])
def test_default_presentation(name, times, presentation, image_off):
    m = zoo.info(name)
    assert (m.times, m.presentation, m.image_off) == (times, presentation, image_off)


@pytest.mark.parametrize("name,decoder,trainable,window", [
    ("rgc_shallow", "last", False, (15, 16)),
    ("ugrnn_intermediate", "last", False, (16, 17)),
    ("ugrnn_intermediate_t30", "last", False, (29, 30)),
    # Section 6.1 default windows: steps 11..16 (T'=6), 11..21 (11), 11..29 (19).
    ("rgc_intermediate_tmaxconf", "max_conf", True, (11, 17)),
    ("rgc_intermediate_dthresh", "thresh", False, (11, 17)),
    ("rgc_intermediate_t22_tmaxconf", "max_conf", True, (11, 22)),
    ("ugrnn_intermediate_t30_tmaxconf", "max_conf", True, (11, 30)),
    ("ugrnn_intermediate_t30_dthresh", "thresh", False, (11, 30)),
])
def test_decoder_metadata(name, decoder, trainable, window):
    m = zoo.info(name)
    assert (m.decoder, m.decoder_trainable, m.decoder_window) == (decoder, trainable, window)
    assert m.variant == (None if decoder == "last" else {"max_conf": "tmaxconf", "thresh": "dthresh"}[decoder])


def test_areas():
    deep, shallow = zoo.info("ugrnn_intermediate"), zoo.info("rgc_shallow")
    assert deep.areas == {"V4": ("conv5", "conv6"), "pIT": ("conv7", "conv8"), "cIT/aIT": ("conv9", "conv10")}
    assert shallow.areas == {"V4": ("conv3",), "pIT": ("conv4",), "cIT/aIT": ("conv5",)}
    assert [deep.area_of(n) for n in ("conv4", "conv6", "conv8", "conv10", "imnetds")] == [
        None, "V4", "pIT", "cIT/aIT", None]
    assert shallow.area_of("conv6") is None  # the README's shallow conv6 does not exist


# Section 5.5, typed in.
DOC_PARAMS = {
    "timedecay_shallow": 4_197_736, "simplernn_shallow": 6_272_872, "lstm_shallow": 21_126_248,
    "gru_shallow": 25_434_472, "intersectionrnn_shallow": 32_513_384, "ugrnn_shallow": 18_355_560,
    "rgc_shallow": 23_956_840, "timedecay_intermediate": 16_403_432,
    "simplernn_intermediate": 33_512_936, "lstm_intermediate": 84_832_232,
    "gru_intermediate": 67_725_032, "intersectionrnn_intermediate": 84_832_232,
    "ugrnn_intermediate": 50_617_832, "rgc_intermediate": 15_445_800,
}


@pytest.mark.parametrize("name", BASE + VARIANTS)
def test_info_params(name):
    base = name.replace("_t22", "").replace("_t30", "").replace("_tmaxconf", "").replace("_dthresh", "")
    m = zoo.info(name)
    assert m.params == DOC_PARAMS[base]
    assert m.params_measured == DOC_PARAMS[base]


@pytest.mark.parametrize("name,top1,top5", [
    ("timedecay_shallow", 50.06, 72.97), ("rgc_shallow", 66.97, 87.02),
    ("rgc_intermediate", 73.0, 91.16), ("rgc_intermediate_t22_tmaxconf", 72.98, 90.80),
    ("ugrnn_intermediate_t30_dthresh", 69.30, 88.97), ("lstm_intermediate", 69.57, 89.18),
])
def test_accuracy(name, top1, top5):
    m = zoo.info(name)
    assert (m.top1, m.top5) == (top1, top5)


def _doc(shared_dir):
    path = shared_dir / "docs" / "original-convrnns.md"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    return path.read_text(encoding="utf-8")


def test_accuracy_and_params_match_the_doc_tables(shared_dir):
    text = _doc(shared_dir)
    acc = text[text.index("### 8.1"):text.index("### 8.2")]
    rows = re.findall(r"^\| (\w+) \| ([\d.]+)% \| ([\d.]+)% \|$", acc, re.M)
    assert len(rows) == 20
    for name, top1, top5 in rows:
        assert (zoo.info(name).top1, zoo.info(name).top5) == (float(top1), float(top5)), name
    params = text[text.index("### 5.5"):text.index("Per-layer breakdown")]
    found = dict(re.findall(r"(\w+)(?: \([^)]*\))? \| ([\d,]+) \|", params))
    assert len(found) == 14
    for name, count in found.items():
        assert zoo.info(name).params == int(count.replace(",", "")), name


def test_markdown_table():
    table = zoo.markdown_table()
    lines = table.strip().splitlines()
    assert len(lines) == 22
    assert lines[0].startswith("| model | cell | depth | feedback edges | params | time steps |")
    row = next(line for line in lines if line.startswith("| rgc_intermediate_t22_tmaxconf |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["rgc_intermediate_t22_tmaxconf", "rgc", "intermediate"]
    assert cells[3].count("→") == 5 and "conv9→conv6" in cells[3]
    assert cells[4] == "15,445,800"
    assert cells[5] == "22 (constant)"
    assert cells[-2:] == ["72.98%", "90.80%"]
    assert "| timedecay_shallow | timedecay | shallow | – | 4,197,736 | 16 (image off at 12) | last |" in table
    assert zoo.markdown_table(["rgc_shallow"]).count("\n") == 3
    with pytest.raises(ValueError, match="unknown zoo model 'bogus'"):
        zoo.markdown_table(["bogus"])


def test_docs_page_has_the_current_table():
    page = (REPO / "docs" / "zoo.md").read_text(encoding="utf-8")
    assert zoo.markdown_table() in page, "docs/zoo.md is stale: paste zoo.markdown_table() into it"


@pytest.mark.parametrize("bad", ["rgc_deep", "RGC_SHALLOW", "", None, 3, "rgc_intermediate_t22"])
def test_unknown_names(bad):
    with pytest.raises(ValueError) as err:
        zoo.info(bad)
    msg = str(err.value)
    assert f"unknown zoo model {bad!r}" in msg
    assert all(n in msg for n in zoo.names())  # lists every valid name


def test_close_names_get_a_hint():
    with pytest.raises(ValueError, match="did you mean 'rgc_intermediate_tmaxconf'"):
        zoo.info("rgc_intermediate_tmaxcnf")


def test_configs():
    assert zoo.load_config("median_rgcell")["cell_params"]["cell_depth"] == 64
    assert zoo.load_config("lstm_shallow")["model_params"]["times"] == 16
    with pytest.raises(ValueError, match="unknown zoo config 'nope'.*lstm_shallow, median_rgcell"):
        zoo.load_config("nope")
