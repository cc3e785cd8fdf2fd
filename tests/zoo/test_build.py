"""Every zoo model builds with the original's shapes, parameters, feedback, decoder and schedule.

References are typed in from the project's ``original-convrnns.md`` tables 4.4, 4.8, 5.1-5.3 and
5.5; Appendix A's per-variable shapes are parsed from the shared doc when it is present. Models
are built with `zoo.build_deferred` (variables with shapes but no values): no 85M-weight init.
"""

import collections
import math
import re

import numpy as np
import pytest

from convrnn_tf import cells, decoders, zoo
from convrnn_tf.model import ConvRNN
from tests.zoo.test_catalog import BASE, DOC_PARAMS, RGC_FEEDBACK, VARIANTS

# Table 5.1 (shallow), 5.2 (intermediate), 5.3 (rgc_intermediate): node output shapes.
SHALLOW = {"conv1": (56, 56, 64), "conv2": (28, 28, 128), "conv3": (14, 14, 256), "conv4": (7, 7, 256),
           "conv5": (4, 4, 512), "imnetds": (1000,)}
SHALLOW_NARROW = {**SHALLOW, "conv3": (14, 14, 128), "conv5": (4, 4, 256)}  # simplernn, lstm
INTERMEDIATE = {"conv1": (56, 56, 64), "conv2": (56, 56, 64), "conv3": (56, 56, 64), "conv4": (28, 28, 128),
                "conv5": (28, 28, 128), "conv6": (14, 14, 256), "conv7": (7, 7, 256), "conv8": (7, 7, 512),
                "conv9": (7, 7, 512), "conv10": (4, 4, 512), "imnetds": (1000,)}
RGC_INTERMEDIATE = {**INTERMEDIATE, "conv2": (56, 56, 128), "conv3": (56, 56, 128), "conv8": (7, 7, 256)}
# Table 5.3: harbor input (feedforward channels, feedback channels) of rgc_intermediate.
RGC_HARBOR = {"conv2": ((56, 56), 64, 0), "conv3": ((56, 56), 128, 0), "conv4": ((56, 56), 128, 0),
              "conv5": ((28, 28), 128, 256), "conv6": ((28, 28), 128, 768), "conv7": ((14, 14), 256, 512),
              "conv8": ((7, 7), 256, 0), "conv9": ((7, 7), 256, 512), "conv10": ((7, 7), 512, 0),
              "imnetds": ((4, 4), 512, 0)}
# Section 5.5 per-layer breakdown of rgc_intermediate.
RGC_FEEDBACK_TARGETS = ("conv5", "conv6", "conv7", "conv9")
RGC_LAYER_PARAMS = {"conv1": 9_472, "conv2": 73_856, "conv3": 147_584, "conv4": 384_064, "conv5": 416_960,
                    "conv6": 1_314_880, "conv7": 1_511_488, "conv8": 1_380_160, "conv9": 4_454_208,
                    "conv10": 5_240_128, "imnetds": 513_000}


def base_of(name):
    for suffix in ("_tmaxconf", "_dthresh", "_t22", "_t30"):
        name = name.replace(suffix, "")
    return name


def want_shapes(name):
    cell, depth = name.split("_")[:2]
    if depth == "shallow":
        return SHALLOW_NARROW if cell in ("simplernn", "lstm") else SHALLOW
    return RGC_INTERMEDIATE if cell == "rgc" else INTERMEDIATE


build_shapes_only = zoo.build_deferred


def node_params(model, node):
    return sum(math.prod(v.shape) for v in model.node(node).weights if not v.path.endswith("memory_decay"))


@pytest.mark.parametrize("name", BASE + VARIANTS)
def test_builds_with_doc_shapes_and_params(name):
    model = build_shapes_only(zoo.build(name))
    assert model.built
    spec = model.spec
    assert {n: spec.shapes[n].output for n in spec.nodes} == want_shapes(name)
    count = zoo.count_params(model)
    assert count == DOC_PARAMS[base_of(name)]
    assert count == zoo.info(name).params_measured
    assert sum(node_params(model, n) for n in spec.nodes) == count
    # Only the memory_decay scalars (frozen zeros; learned in timedecay cell layers) and the
    # decoder's scalars are left out: every non-cell node has one (section 4.1).
    extra = zoo.count_params(model, decoder=True, memory_decay=True) - count
    decays = 6 if "shallow" in name and name.startswith("timedecay") else (
        3 if "shallow" in name else 11 if name.startswith("timedecay") else 4)
    want_decoder = {"last": 0, "max_conf": 1, "thresh": 2}[zoo.info(name).decoder]
    assert extra == decays + want_decoder


@pytest.mark.parametrize("name", BASE + VARIANTS)
def test_cells_per_layer(name):
    info = zoo.info(name)
    spec = zoo.model_spec(name)
    assert spec.name == name and len(spec.nodes) == info.num_nodes
    assert spec.layer_start_times() == info.layer_start_times
    for node in spec.nodes.values():
        if node.name in info.recurrent_layers:
            assert node.cell_name == info.cell, node.name
            if info.cell == "timedecay":
                assert node.memory["trainable"] is True
        else:  # section 4.9: frozen zero decay
            assert (node.cell_name, node.memory["memory_decay"], node.memory["trainable"]) == ("timedecay", 0, False)


def test_rgc_intermediate_feedback_harbors_and_layer_params():
    model = build_shapes_only(zoo.build("rgc_intermediate"))
    spec = model.spec
    assert {(e.source, e.target) for e in spec.feedback_edges} == RGC_FEEDBACK
    assert all(e.kind == "feedback" for e in spec.edges if (e.source, e.target) in RGC_FEEDBACK)
    for node, (hw, ff, fb) in RGC_HARBOR.items():
        s = spec.shapes[node]
        assert s.harbor == hw + (ff + fb,), node
        assert s.ff == hw + (ff,), node
        assert s.feedback == (None if fb == 0 else hw + (fb,)), node
    # Feedforward input first, then feedback sources in string order (conv6: conv7, conv9).
    assert spec.shapes["conv6"].inputs == ["conv5", "conv7", "conv9"]
    assert spec.shapes["conv7"].inputs == ["conv6", "conv10"]
    assert {n: node_params(model, n) for n in spec.nodes} == RGC_LAYER_PARAMS
    # Table 4.8: feedback_to_out 1x1 kernels (+ bias) exactly where feedback enters, and residual
    # projections (no bias) only where the channel count changes (conv6, conv9).
    def weights(node, part):
        return {w.path.split("/")[-1]: tuple(w.shape) for w in model.node(node).weights if part in w.path}

    fb = {"conv5": (256, 128), "conv6": (768, 256), "conv7": (512, 256), "conv9": (512, 512)}
    res = {"conv6": (128, 256), "conv9": (256, 512)}
    for node in RGC_FEEDBACK_TARGETS + ("conv4", "conv8", "conv10"):
        want_fb = {} if node not in fb else {"feedback_to_out_kernel": (1, 1) + fb[node],
                                             "feedback_to_out_bias": fb[node][1:]}
        assert weights(node, "feedback") == want_fb, node
        want_res = {} if node not in res else {"residual_add_kernel": (1, 1) + res[node]}
        assert weights(node, "residual") == want_res, node


def test_rgc_intermediate_without_feedback_is_the_known_short_count():
    # Measured before the zoo added the edges; the difference is exactly the four
    # feedback_to_out kernels and biases of table 4.8.
    model = build_shapes_only(ConvRNN(zoo.load_spec("rgc_intermediate")))
    fb = (256 * 128 + 128) + (768 * 256 + 256) + (512 * 256 + 256) + (512 * 512 + 512)
    assert zoo.count_params(model) == 14_822_056 == DOC_PARAMS["rgc_intermediate"] - fb


@pytest.mark.parametrize("name", ["rgc_intermediate", "rgc_intermediate_t22_tmaxconf"])
def test_median_config_and_its_overrides(name):
    spec = zoo.model_spec(name)
    reference = cells.median_config()  # the cells package's own copy of median_rgcell_cfg.py
    for layer in zoo.info(name).recurrent_layers:
        memory = spec.nodes[layer].cell_kwargs
        for key, value in reference.items():
            if key not in ("shape", "out_depth"):
                assert memory[key] == value, (layer, key)
        # Section 4.8 and model_func's four overrides.
        assert (memory["feedback_activation"], memory["feedback_entry"], memory["feedback_depth_separable"],
                memory["feedback_filter_size"]) == ("identity", "out", False, 1)
        assert (memory["gate_nonlinearity"], memory["cell_depth"], memory["tau_filter_size"],
                memory["ff_filter_size"], memory["in_out_filter_size"]) == ("tanh", 64, 7, 2, 3)
        assert memory["tau_offset"] == 0.9219348064291611 and memory["gate_offset"] == 0.7006566684988862


def test_lstm_shallow_layer_overrides():
    spec = zoo.model_spec("lstm_shallow")
    # Table 4.4 (the npz): filter, out_depth, peepholes, layer norm, forget bias, weight decay.
    want = {"conv3": (2, 128, False, 1.3561755203084322, 5.434329000564743e-06, 0.7008842622125534, 1.6427688907776656),
            "conv4": (3, 256, True, 0.977962918535079, 7.612613874483112e-06, 1.8314561102978617, -1.166018906771675),
            "conv5": (4, 256, False, 0.9249280259963113, 3.038054940623377e-06, 0.8937636886958731,
                      -1.3495015766804237)}
    for layer, (k, depth, peep, fbias, wd, scale, bias) in want.items():
        m = spec.nodes[layer].memory
        assert (m["filter_size"], m["out_depth"], m["use_peepholes"], m["layer_norm"]) == (k, depth, peep, True)
        assert (m["forget_bias"], m["weight_decay"]) == (fbias, wd)
        assert (m["kernel_initializer"], m["kernel_initializer_kwargs"]) == ("variance_scaling", {"scale": scale})
        assert (m["bias_initializer"], m["bias_initializer_kwargs"]) == ("constant", {"value": bias})
        assert m["shape"] == {"conv3": [28, 28], "conv4": [14, 14], "conv5": [7, 7]}[layer]
    model = build_shapes_only(zoo.build("lstm_shallow"))
    shapes = {n: sorted(tuple(w.shape) for w in model.node(n).weights) for n in ("conv3", "conv4", "conv5", "imnetds")}
    assert (2, 2, 384, 512) in shapes["conv3"]
    assert shapes["conv4"].count((14, 14, 256)) == 3  # peepholes
    assert (4, 4, 768, 1024) in shapes["conv5"]
    assert (2, 2, 256, 1000) in shapes["imnetds"]
    # The untouched intermediate LSTM keeps its JSON cell.
    plain = zoo.model_spec("lstm_intermediate").nodes["conv4"].memory
    assert plain["filter_size"] == [3, 3]
    assert not plain.get("layer_norm", False) and not plain.get("use_peepholes", False)


def _appendix(shared_dir):
    path = shared_dir / "docs" / "original-convrnns.md"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    text = path.read_text(encoding="utf-8")
    text = text[text.index("## Appendix A"):]
    out = {}
    for name, nvars, nparams, body in re.findall(
            r"#### (\w+)  \((\d+) variables; (\d+) parameters[^\n]*\n```\n(.*?)```", text, re.S):
        rows = [line.split(" ", 1) for line in body.strip().splitlines()]
        out[name] = (int(nvars), int(nparams),
                     [(var, tuple(int(d) for d in re.findall(r"\d+", shape))) for var, shape in rows])
    return out


@pytest.mark.parametrize("name", ["lstm_shallow", "rgc_shallow", "gru_intermediate", "rgc_intermediate"])
def test_variables_match_appendix_a(name, shared_dir):
    """Per node, the multiset of variable shapes equals the doc's derived variable list."""
    nvars, nparams, variables = _appendix(shared_dir)[name]
    model = build_shapes_only(zoo.build(name))
    assert len(model.weights) == nvars == len(variables)
    assert zoo.count_params(model) == nparams
    for node in model.spec.nodes:
        doc = collections.Counter(shape for var, shape in variables if var.split("/")[1] == node)
        ours = collections.Counter(tuple(w.shape) for w in model.node(node).weights)
        assert ours == doc, node


@pytest.mark.parametrize("name,window,cls,trainable", [
    ("rgc_intermediate", [16], decoders.LastStep, None),
    ("rgc_shallow", [15], decoders.LastStep, None),
    ("rgc_intermediate_tmaxconf", list(range(11, 17)), decoders.MaxConfidence, True),
    ("rgc_intermediate_dthresh", list(range(11, 17)), decoders.Threshold, False),
    ("rgc_intermediate_t22_tmaxconf", list(range(11, 22)), decoders.MaxConfidence, True),
    ("ugrnn_intermediate_t30", [29], decoders.LastStep, None),
    ("ugrnn_intermediate_t30_tmaxconf", list(range(11, 30)), decoders.MaxConfidence, True),
    ("ugrnn_intermediate_t30_dthresh", list(range(11, 30)), decoders.Threshold, False),
])
def test_decoders_windows_and_times(name, window, cls, trainable):
    model = zoo.build(name)
    info = zoo.info(name)
    assert model.name == name
    assert model.times == info.times == window[-1] + 1
    assert model.window == window
    assert type(model.decoder) is cls
    if trainable is not None:
        model.decoder.build((None, len(window), 1000))
        assert model.decoder.beta_trainable is trainable
        assert [w.name for w in model.decoder.trainable_weights] == (["softmax_beta"] if trainable else [])
    if cls is decoders.Threshold:
        assert model.decoder.threshold_value == 0.9 and float(np.asarray(model.decoder.beta)[0]) == 1.0
    pres = model.presentation
    if info.presentation == "constant":
        assert (pres.kind, pres.image_off) == ("constant", None)
    else:
        assert (pres.kind, pres.image_off, pres.blank) == ("movie", 12, 0.5)
    assert model.layer_start_times == info.layer_start_times


def test_overrides_pass_through():
    m = zoo.build("rgc_intermediate", times=30)
    assert (m.times, m.presentation.kind, m.presentation.image_off) == (30, "movie", 12)
    m = zoo.build("rgc_shallow", presentation="neural")
    assert (m.times, m.presentation.image_off) == (26, 10)
    m = zoo.build("rgc_shallow", presentation="constant", times=8, prune=False, decoder="w_avg",
                  decoder_start=3, name="mine")
    assert (m.times, m.presentation.kind, m.prune, m.window, m.name) == (8, "constant", False, [3, 4, 5, 6, 7], "mine")
    assert isinstance(m.decoder, decoders.WeightedAverage)
    m = zoo.build("rgc_intermediate_t22_tmaxconf", image_off=10)  # the original's movie with given image_off
    assert (m.times, m.presentation.kind, m.presentation.image_off) == (22, "movie", 10)
    m = zoo.build("ugrnn_intermediate_t30", times=12)
    assert (m.times, m.presentation.kind) == (12, "constant")
    m = zoo.build("rgc_intermediate_tmaxconf", decoder="last", image_off=5)
    assert (m.window, m.presentation.image_off) == ([16], 5)
    assert type(zoo.build("rgc_intermediate_tmaxconf").decoder) is decoders.MaxConfidence  # fresh each time


@pytest.mark.parametrize("name,kwargs,match", [
    ("rgc_deep", {}, r"unknown zoo model 'rgc_deep'.*ugrnn_intermediate_t30_dthresh"),
    ("rgc_shallow", {"time": 3}, r"unknown override\(s\) \['time'\]"),
    ("rgc_shallow", {"spec": "x"}, r"unknown override\(s\) \['spec'\]"),
    ("rgc_shallow", {"times": 0}, r"zoo.build\('rgc_shallow'\): times must be a positive int"),
    ("rgc_intermediate_tmaxconf", {"times": 8}, r"image_off=12 is after the last step \(times=8\)"),
    ("rgc_intermediate_tmaxconf", {"times": 11, "presentation": "constant"}, r"decoder window \[11, 11\)"),
    ("rgc_shallow", {"presentation": "film"}, r"presentation must be one of"),
])
def test_bad_builds(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        zoo.build(name, **kwargs)


def test_shallow_forward_smoke():
    model = zoo.build("timedecay_shallow")
    x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype("float32")
    y = np.asarray(model(x))
    assert y.shape == (1, 1000) and np.isfinite(y).all()
    assert zoo.count_params(model) == DOC_PARAMS["timedecay_shallow"]


def test_config_round_trip_keeps_the_zoo_defaults():
    model = zoo.build("rgc_intermediate_t22_tmaxconf")
    again = ConvRNN.from_config(model.get_config())
    assert (again.times, again.presentation, again.window) == (22, model.presentation, list(range(11, 22)))
    assert type(again.decoder) is decoders.MaxConfidence and again.decoder.beta_trainable
    assert {(e.source, e.target) for e in again.spec.feedback_edges} == RGC_FEEDBACK
    assert again.spec.name == "rgc_intermediate_t22_tmaxconf"
