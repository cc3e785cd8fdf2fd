"""GraphSpec: native round trip, the original files, shape inference, and every validation error."""

import copy
import json

import pytest

from convrnn_tf.graph import GraphSpec, SpecError, builders

ORIGINAL_FILES = [
    "gru_intermediate", "gru_shallow", "intersectionrnn_intermediate", "intersectionrnn_shallow",
    "lstm_intermediate", "lstm_shallow", "rgc_intermediate", "rgc_intermediate_t22", "rgc_shallow",
    "simplernn_intermediate", "simplernn_shallow", "timedecay_intermediate", "timedecay_shallow",
    "ugrnn_intermediate", "ugrnn_intermediate_t30", "ugrnn_shallow",
]


def small():
    return builders.chain(4, input_shape=(16, 16, 3), base_depth=4, classes=5).to_json()


def test_native_round_trip(tmp_path):
    spec = builders.chain(5, feedback=[("conv4", "conv2")])
    data = spec.to_json(tmp_path / "spec.json")
    again = GraphSpec.from_json(tmp_path / "spec.json")
    assert again.to_json() == data
    assert GraphSpec.from_json(json.dumps(data)).to_json() == data
    assert again.shapes == spec.shapes
    assert [e.kind for e in again.edges].count("feedback") == 1


@pytest.mark.parametrize("name", ORIGINAL_FILES)
def test_original_files_parse(shared_dir, name):
    spec = GraphSpec.from_json(shared_dir / "reference" / "convrnns-models" / f"{name}.json")
    assert spec.output == "imnetds"
    assert spec.shapes["imnetds"].output == (1000,)
    assert spec.inputs == ["conv1"]
    assert spec.metadata["cell"] == name.split("_")[0]
    # Original round trip through the native format keeps every node and shape.
    assert GraphSpec.from_dict(spec.to_json()).shapes == spec.shapes


def test_original_shapes_match_the_doc_tables(shared_dir):
    models = shared_dir / "reference" / "convrnns-models"
    shallow = GraphSpec.from_json(models / "timedecay_shallow.json")
    assert [shallow.shapes[n].output for n in shallow.nodes] == [
        (56, 56, 64), (28, 28, 128), (14, 14, 256), (7, 7, 256), (4, 4, 512), (1000,)]
    assert shallow.shapes["imnetds"].post[0] == (3, 3, 1000)  # 2x2 VALID conv on 4x4
    inter = GraphSpec.from_json(models / "timedecay_intermediate.json")
    assert [inter.shapes[n].output for n in inter.nodes] == [
        (56, 56, 64), (56, 56, 64), (56, 56, 64), (28, 28, 128), (28, 28, 128), (14, 14, 256),
        (7, 7, 256), (7, 7, 512), (7, 7, 512), (4, 4, 512), (1000,)]
    assert inter.layer_start_times() == {**{f"conv{i}": i for i in range(1, 11)}, "imnetds": 11}


def test_original_defaults_and_sorted_predecessors(shared_dir):
    inter = GraphSpec.from_json(shared_dir / "reference" / "convrnns-models" / "timedecay_intermediate.json")
    fc = inter.nodes["imnetds"].pre_memory[-1]
    assert fc.op == "fc" and fc.kwargs["bias"] == 1 and fc.kwargs["activation"] is None
    fb = inter.with_edges([("conv8", "conv6"), ("conv10", "conv6"), ("conv7", "conv6")])
    assert fb.predecessors("conv6") == ["conv10", "conv5", "conv7", "conv8"]  # string sort, as the original
    assert fb.shapes["conv6"].harbor == (28, 28, 128 + 512 + 256 + 512)
    assert {(e.source, e.target) for e in fb.feedback_edges} == {("conv8", "conv6"), ("conv10", "conv6"), ("conv7", "conv6")}


def test_original_cell_layers_need_a_cell_type(shared_dir):
    data = json.loads((shared_dir / "reference" / "convrnns-models" / "gru_shallow.json").read_text())
    with pytest.raises(SpecError, match=r"node 'conv3', memory: .*cell type is unknown"):
        GraphSpec.from_json(data)


def _mutate(fn):
    data = small()
    fn(data)
    return data


BAD = {
    "unknown op": (lambda d: d["nodes"][1]["pre_memory"].append({"op": "convolve"}),
                   r"node 'conv2', pre_memory\[1\]: unknown op 'convolve'; valid ops are: activation"),
    "unknown cell": (lambda d: d["nodes"][2]["memory"].update(cell="lstmm"),
                     r"node 'conv3', memory.cell: unknown cell 'lstmm'; valid cell names are"),
    "edge to unknown node": (lambda d: d["edges"].append({"from": "conv3", "to": "conv9"}),
                             r"edges\[3\]: edge 'conv3' -> 'conv9' refers to unknown node 'conv9'"),
    "no input node": (lambda d: d["nodes"][0].pop("shape"), r"no input node"),
    "output unreachable": (lambda d: (d["nodes"].append({"name": "island", "shape_from": "conv1"}),
                                      d.update(output="island")),
                           r"output node 'island' is unreachable from the input"),
    "duplicate names": (lambda d: d["nodes"].append(copy.deepcopy(d["nodes"][1])), r"duplicate node name 'conv2'"),
    "wrong kwarg type": (lambda d: d["nodes"][1]["pre_memory"][0].update(out_depth="64"),
                         r"node 'conv2', pre_memory\[0\]: op 'conv' argument 'out_depth' must be int, got '64'"),
    "unknown kwarg": (lambda d: d["nodes"][1]["pre_memory"][0].update(filters=3),
                      r"op 'conv' has no argument 'filters'"),
    "bad cell kwarg": (lambda d: d["nodes"][2]["memory"].update(memory_decay="fast"),
                       r"node 'conv3', memory: bad 'timedecay' cell arguments: .*memory_decay must be a number"),
    "flat into spatial": (lambda d: d["edges"].append({"from": "readout", "to": "conv2"}),
                          r"node 'conv2', harbor: cannot harbor the flat output \[5\] of 'readout'"),
    "add with unequal depths": (lambda d: (d["nodes"][1]["harbor"].update(channel_op="add"),
                                           d["edges"].append({"from": "conv3", "to": "conv2"})),
                                r"node 'conv2', harbor: channel_op 'add' needs equal channel counts"),
    "conv after global pool": (lambda d: d["nodes"][3]["pre_memory"].append({"op": "conv", "out_depth": 2, "ksize": 1}),
                               r"node 'readout', pre_memory\[2\]: op 'conv' needs a spatial"),
    "residual without kept input": (lambda d: (d["nodes"][1]["pre_memory"][0].update(return_input=False),
                                               d["nodes"][1]["post_memory"].append({"op": "residual_add"})),
                                    r"node 'conv2', post_memory\[0\]: residual_add needs an earlier conv"),
    "unknown shape_from": (lambda d: d["nodes"][1].update(shape_from="conv7"), r"node 'conv2', shape_from: .*'conv7'"),
    "bad edge kind": (lambda d: d["edges"][0].update(kind="lateral"), r"edges\[0\]: edge kind must be one of"),
    "bad activation": (lambda d: d["nodes"][1]["pre_memory"][0].update(activation="swishy"),
                       r"node 'conv2', pre_memory\[0\]: activation: unknown activation 'swishy'"),
    "VALID conv too big": (lambda d: d["nodes"][2]["pre_memory"][0].update(ksize=9, padding="VALID"),
                           r"node 'conv3', pre_memory\[0\]: VALID conv of size 9x9 does not fit"),
    "unknown node key": (lambda d: d["nodes"][1].update(cell="gru"), r"node 'conv2': unknown keys \['cell'\]"),
    "residual cell without kept input": (lambda d: (d["nodes"][2]["pre_memory"][0].update(return_input=False),
                                                    d["nodes"][2].update(memory=builders.conv_node(
                                                        "x", 8, cell="rgc")["memory"])),
                                         r"node 'conv3', memory: cell 'rgc' has a residual path"),
    "ambiguous output": (lambda d: (d.pop("output"), d["nodes"].append({"name": "side", "shape_from": "conv1"}),
                                    d["edges"].append({"from": "conv1", "to": "side"})),
                         r"output: cannot tell the output node"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_specs_raise_one_clear_error(case):
    mutate, pattern = BAD[case]
    with pytest.raises(SpecError, match=pattern):
        GraphSpec.from_dict(_mutate(mutate))


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(SpecError, match="broken.json.*not valid JSON"):
        GraphSpec.from_json(bad)
    with pytest.raises(SpecError, match="cannot read graph spec file"):
        GraphSpec.from_json(tmp_path / "missing.json")
    data = _mutate(BAD["unknown op"][0])
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=r"spec.json: node 'conv2'"):
        GraphSpec.from_json(path)


def test_feedback_kind_is_inferred_from_depth():
    spec = builders.chain(5, feedback=[])
    spec = spec.with_edges([("conv4", "conv1")], kind="feedback")
    data = spec.to_json()
    for e in data["edges"]:
        e.pop("kind")
    data["edges"].append({"from": "conv1", "to": "conv3"})  # a skip is feedforward
    again = GraphSpec.from_dict(data)
    kinds = {(e.source, e.target): e.kind for e in again.edges}
    assert kinds[("conv4", "conv1")] == "feedback"
    assert kinds[("conv1", "conv3")] == "feedforward"
    assert again.shapes["conv1"].harbor == (64, 64, 3 + 32)
