"""Tests of the reciprocal gated cell against a NumPy reference written from the spec (§4.7, §4.8)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import convrnn_tf.cells as cells
from convrnn_tf.cells.reciprocal_gated import ReciprocalGatedCell, median_config, shallow_config
from tests.cells import rgc_reference
from tests.cells.rgc_cases import B, make, small_shallow


def weights_by_name(cell):
    return {name: v.numpy() for name, v in cell.original_variable_map().items()}


def check_against_reference(cfg, c_in, c_fb=None, c_res=None, steps=1, atol=2e-4):
    cell, x, fb, r, states = make(cfg, c_in, c_fb, c_res)
    ref = rgc_reference.Reference(cfg, weights_by_name(cell))
    ref_states = tuple(s.astype(np.float64) for s in states)
    rng = np.random.default_rng(1)
    for t in range(steps):
        out, states = cell(x, states, feedback=fb, res_input=r)
        ref_out, ref_states = ref.step(x.astype(np.float64), ref_states,
                                       None if fb is None else fb.astype(np.float64),
                                       None if r is None else r.astype(np.float64))
        np.testing.assert_allclose(out.numpy(), ref_out, atol=atol, rtol=2e-4, err_msg=f"output, step {t}")
        assert len(states) == len(ref_states)
        for got, want in zip(states, ref_states):
            assert got.dtype == tf.float32
            np.testing.assert_allclose(got.numpy(), want, atol=atol, rtol=2e-4, err_msg=f"state, step {t}")
        x = rng.normal(0, 1, x.shape).astype("float32")  # a new input each step
    assert ref.unused() == [], "weights the spec does not use"
    return cell


# ------------------------------------------------------------------------------ NumPy agreement
@pytest.mark.parametrize("with_feedback", [False, True])
def test_shallow_matches_reference(with_feedback):
    cell = check_against_reference(small_shallow(), c_in=4, c_fb=5 if with_feedback else None, c_res=3)
    names = set(cell.original_variable_map())
    assert ("ReciprocalGateCell/out/feedback/weights" in names) == with_feedback
    assert not any(n.endswith("bias") for n in names)  # cells.py: no biases on temporal convs


def test_shallow_three_steps_layer_norm_and_clamping():
    # 3x3 kernels on a 2x2 map are clamped to 2x2 (even kernels: SAME pads bottom/right).
    cfg = small_shallow(shape=(2, 2), layer_norm=True)
    cell = check_against_reference(cfg, c_in=4, c_fb=3, c_res=3, steps=3)
    assert cell.original_variable_map()["ReciprocalGateCell/cell/tau/weights"].shape == (2, 2, 4, 4)


def test_median_rgc_intermediate_matches_reference():
    # rgc_intermediate: feedback enters at "out" through a 1x1 identity conv with bias; the residual
    # needs a 1x1 projection (C_ff 5 != C 4); 7x7 depth-separable tau/gate unclamped on 8x8.
    cfg = median_config(shape=[8, 8], out_depth=4, cell_depth=3)
    cell = check_against_reference(cfg, c_in=4, c_fb=6, c_res=5, steps=3)
    names = set(cell.original_variable_map())
    assert {"ReciprocalGateCell/out/feedback_to_out_weights", "ReciprocalGateCell/out/residual_add_weights",
            "ReciprocalGateCell/cell/out_to_cell/depthwise_weights"} <= names


def test_median_without_feedback_has_no_feedback_variables():
    cfg = median_config(shape=[8, 8], out_depth=4, cell_depth=3)
    cell = check_against_reference(cfg, c_in=4, c_res=4)
    assert not [n for n in cell.original_variable_map() if "feedback" in n]


def test_median_unoverridden_feedback_at_input_clamped():
    # The published median config: feedback at the input through a depth-separable 8x8 conv + elu.
    # On a 6x6 map the 8x8 and 7x7 separable kernels are clamped to 6x6.
    cfg = median_config(shape=[6, 6], out_depth=4, cell_depth=3, rgc_intermediate=False)
    assert cfg["feedback_entry"] == "input" and cfg["feedback_depth_separable"]
    cell = check_against_reference(cfg, c_in=4, c_fb=5, c_res=4, steps=3)
    fb = cell.original_variable_map()["ReciprocalGateCell/input/feedback/depthwise_weights"]
    assert fb.shape == (6, 6, 5, 1)


def test_median_layer_norm():
    # + a depth-separable residual_to_out_gate, which has no bias in median_rgcell.py
    cfg = median_config(shape=[5, 5], out_depth=4, cell_depth=3, layer_norm=True, residual_to_out_gate=True)
    cell = check_against_reference(cfg, c_in=4, c_fb=2, c_res=4, steps=3)
    assert "ReciprocalGateCell/out/residual_to_out_gate/bias" not in cell.original_variable_map()


def test_median_every_optional_path():
    # Full (non-separable) tau/gate convs, so the configured tau_bias/gate_bias are added; every
    # auxiliary path on; feedback into the cell.
    cfg = median_config(
        shape=[4, 4], out_depth=4, cell_depth=3, tau_depth_separable=False, gate_depth_separable=False,
        tau_filter_size=3, gate_filter_size=3, cell_tau_filter_size=2, cell_residual=True,
        input_to_tau=True, input_to_gate=True, residual_to_cell_tau=True, residual_to_cell_gate=True,
        residual_to_out_tau=True, residual_to_out_gate=True, cell_to_out=True, feedback_entry="cell",
        feedback_depth_separable=True, feedback_filter_size=3, ff_depth_separable=True,
        in_out_depth_separable=True, layer_norm=True)
    check_against_reference(cfg, c_in=4, c_fb=2, c_res=3, steps=2)


def test_shallow_separable_paths_and_feedback_into_cell():
    # cells.py quirks: feedback at "cell" is act(fb + T(fb)); depth-separable convs have biases,
    # including residual_to_out_gate; ds_repeat adds a first depthwise conv + elu.
    cfg = small_shallow(shape=(5, 5), feedback_entry="cell", gate_depth_separable=True,
                        tau_depth_separable=True, ds_repeat=True, input_to_out=True,
                        in_out_depth_separable=True, cell_residual=True, cell_to_out=False,
                        out_residual=True, feedback_activation="tanh", input_activation="elu")
    check_against_reference(cfg, c_in=4, c_fb=4, c_res=3, steps=2)


def test_shallow_cell_to_out_and_full_input_to_out():
    cfg = small_shallow(shape=(4, 4), cell_to_out=True, input_to_out=True, out_residual=True)
    cell = check_against_reference(cfg, c_in=4, c_res=4, steps=2)
    assert "ReciprocalGateCell/out/input_to_out_bias" not in cell.original_variable_map()


def test_no_cell_state_when_gate_filter_is_zero():
    cfg = median_config(shape=[4, 4], out_depth=4, gate_filter_size=[0, 0])
    cell = check_against_reference(cfg, c_in=4, c_fb=2, c_res=4, steps=2)
    assert cell.state_shapes((None, 4, 4, 4)) == ((4, 4, 4),)


def test_tau_gate_bias_modes():
    # The median's tau/gate constants have no effect on separable convs, unless asked for.
    base = median_config(shape=[4, 4], out_depth=4, cell_depth=3)
    cell_a, x, fb, r, states = make(base, 4, 2, 4)
    cell_b = ReciprocalGatedCell(**dict(base, tau_gate_bias_mode="all"))
    cell_b.build((None, 4, 4, 4), (None, 4, 4, 2), (None, 4, 4, 4))
    cell_b.set_weights(cell_a.get_weights())
    zero = ReciprocalGatedCell(**dict(base, tau_bias=0.0, gate_bias=0.0))
    zero.build((None, 4, 4, 4), (None, 4, 4, 2), (None, 4, 4, 4))
    zero.set_weights(cell_a.get_weights())
    out_a = cell_a(x, states, feedback=fb, res_input=r)[0].numpy()
    np.testing.assert_array_equal(out_a, zero(x, states, feedback=fb, res_input=r)[0].numpy())
    assert np.abs(out_a - cell_b(x, states, feedback=fb, res_input=r)[0].numpy()).max() > 1e-3


# ------------------------------------------------------------------------------ parameter counts
# rgc_intermediate per-layer totals of spec §5.5 (node = 3x3 pre-conv C_ff -> C with bias + cell).
INTERMEDIATE = {  # node: (harbor H=W, C_ff, C, C_fb, node params)
    "conv4": (56, 128, 128, None, 384_064), "conv5": (28, 128, 128, 256, 416_960),
    "conv6": (28, 128, 256, 768, 1_314_880), "conv7": (14, 256, 256, 512, 1_511_488),
    "conv8": (7, 256, 256, None, 1_380_160), "conv9": (7, 256, 512, 512, 4_454_208),
    "conv10": (7, 512, 512, None, 5_240_128),
}


def n_params(cell):
    return sum(int(np.prod(v.shape)) for v in cell.weights)


@pytest.mark.parametrize("node", sorted(INTERMEDIATE))
def test_rgc_intermediate_parameter_counts(node):
    hw, c_ff, c, c_fb, total = INTERMEDIATE[node]
    cell = ReciprocalGatedCell(**median_config(shape=[hw, hw], out_depth=c, kernel_initializer="zeros"))
    cell.build((None, hw, hw, c), None if c_fb is None else (None, hw, hw, c_fb), (None, hw, hw, c_ff))
    assert n_params(cell) + (9 * c_ff * c + c) == total
    if node == "conv5":
        assert n_params(cell) == 269_376
    assert all(w.trainable for w in cell.weights)


def test_rgc_shallow_shapes_and_total():
    # Appendix A: conv3 cell variables, and the whole rgc_shallow = 23,956,840 parameters.
    expected_conv3 = {
        "cell/input_to_cell/weights": (3, 3, 256, 256), "cell/tau/weights": (3, 3, 256, 256),
        "cell/gate/weights": (3, 3, 256, 256), "out/tau/weights": (3, 3, 256, 256),
        "out/gate/weights": (3, 3, 256, 256), "out/residual_to_out_gate/weights": (3, 3, 128, 256),
    }
    total = 7 * 7 * 3 * 64 + 64 + 9 * 64 * 128 + 128 + 2 * 2 * 512 * 1000 + 1000  # conv1, conv2, imnetds
    for layer, c_ff in (("conv3", 128), ("conv4", 256), ("conv5", 256)):
        cfg = shallow_config(layer, kernel_initializer="zeros")
        (hw, _), c = cfg["shape"], cfg["out_depth"]
        cell = ReciprocalGatedCell(**cfg)
        cell.build((None, hw, hw, c), None, (None, hw, hw, c_ff))
        shapes = {k.split("ReciprocalGateCell/")[1]: tuple(v.shape) for k, v in cell.original_variable_map().items()}
        if layer == "conv3":
            assert shapes == expected_conv3
        total += n_params(cell) + 9 * c_ff * c + c
        assert len(cell.losses) == 6  # every kernel has weight decay
    assert total == 23_956_840


def test_configs_match_reference_files(shared_dir):
    ref = json.loads((shared_dir / "reference/convrnns-models/median_rgcell.config.json").read_text())
    merged = dict(ref["cell_params"], **ref["overrides_for_rgc_intermediate"])
    got = median_config()
    for key, value in merged.items():
        assert got[key] == value, key
    unmerged = median_config(rgc_intermediate=False)
    for key, value in ref["cell_params"].items():
        assert unmerged[key] == value, key
    spec = json.loads((shared_dir / "reference/convrnns-models/rgc_shallow.json").read_text())
    for node in spec["nodes"]:
        if "cell_depth" in node["memory"]:
            memory = {k: v for k, v in node["memory"].items() if k != "function"}
            assert shallow_config(node["name"]) == dict(memory, variant="shallow")


# ------------------------------------------------------------------------------ API
def test_registry_and_contract():
    assert cells.get("rgc") is ReciprocalGatedCell
    assert ReciprocalGatedCell.takes_feedback
    cell = ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=None, cell_depth=3))
    cell.build((None, 4, 4, 6), None, (None, 4, 4, 6))  # out_depth None -> input channels
    assert cell.compute_output_shape((None, 4, 4, 6)) == (None, 4, 4, 6)
    states = cell.get_initial_state(B)
    assert [tuple(s.shape) for s in states] == [(B, 4, 4, 3), (B, 4, 4, 6)]
    with pytest.raises(ValueError, match="feedback"):
        cell(np.zeros((B, 4, 4, 6), "float32"), states, feedback=np.zeros((B, 4, 4, 2), "float32"),
             res_input=np.zeros((B, 4, 4, 6), "float32"))


def test_config_round_trip():
    cfg = median_config(shape=[5, 5], out_depth=4, cell_depth=3, layer_norm=True, name="rgc_node")
    cell, x, fb, r, states = make(cfg, 4, 2, 3)
    config = cell.get_config()
    json.dumps(config)
    twins = [ReciprocalGatedCell.from_config(config),
             keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))]
    want = cell(x, states, feedback=fb, res_input=r)
    assert not twins[0].built and twins[1].built  # the serialized form carries the build shapes
    for twin in twins:
        assert type(twin) is ReciprocalGatedCell and twin.get_config() == config
        if not twin.built:
            twin.build_from_config(cell.get_build_config())
        twin.set_weights(cell.get_weights())
        got = twin(x, states, feedback=fb, res_input=r)
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
        for a, b in zip(got[1], want[1]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_original_keys_and_kernel_spellings():
    a = ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=4))
    b = ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=4, tau_filter_size=7.0,
                                            gate_filter_size=[7, 7], ff_filter_size=[2, 2]))
    assert a.get_config()["tau_filter_size"] == b.get_config()["tau_filter_size"] == [7, 7]
    assert a.get_config()["feedback_filter_size"] == [1, 1]


@pytest.mark.parametrize("overrides, key", [
    ({"out_activation": "swishy"}, "out_activation"),
    ({"cell_depth": -3}, "cell_depth"),
    ({"out_depth": 0}, "out_depth"),
    ({"feedback_entry": "side"}, "feedback_entry"),
    ({"variant": "deep"}, "variant"),
    ({"tau_filter_size": 2.5}, "tau_filter_size"),
    ({"gate_filter_size": [0, 3]}, "gate_filter_size"),
    ({"input_to_cell": "yes"}, "input_to_cell"),
    ({"input_to_cell": False}, "input_to_cell"),
    ({"tau_gate_bias_mode": "some"}, "tau_gate_bias_mode"),
    ({"clamp_kernel_size": "never"}, "clamp_kernel_size"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"kernel_initializer": "no_such_init"}, "kernel_initializer"),
    ({"shape": [4]}, "shape"),
    ({"gate_filter_size": [0, 0], "residual_to_out_gate": True}, "residual_to_out_gate"),
])
def test_bad_config_raises(overrides, key):
    with pytest.raises(ValueError, match=f"ReciprocalGatedCell.*{key}"):
        ReciprocalGatedCell(**dict(median_config(shape=[4, 4], out_depth=4), **overrides))


@pytest.mark.parametrize("cfg, shapes, key", [
    (dict(), ((None, 4, 4), None, (None, 4, 4, 4)), "input_shape"),
    (dict(), ((None, 5, 4, 4), None, (None, 5, 4, 4)), "input_shape"),  # shape is [4, 4]
    (dict(), ((None, 4, 4, 4), (None, 2, 2, 3), (None, 4, 4, 4)), "feedback_shape"),
    (dict(), ((None, 4, 4, 4), (None, 4, 4), (None, 4, 4, 4)), "feedback_shape"),
    (dict(), ((None, 4, 4, 4), None, None), "res_input_shape"),
    (dict(input_to_out=False), ((None, 4, 4, 6), None, (None, 4, 4, 6)), "out_depth"),
    # full (non-separable) 7x7 kernels are not clamped in the median variant: too big for 4x4
    (dict(tau_depth_separable=False), ((None, 4, 4, 4), None, (None, 4, 4, 4)), "tau_filter_size"),
    (dict(clamp_kernel_size="none"), ((None, 4, 4, 4), None, (None, 4, 4, 4)), "filter_size"),
    (dict(variant="shallow", feedback_entry="cell"), ((None, 4, 4, 4), (None, 4, 4, 5), (None, 4, 4, 4)),
     "feedback_entry"),
])
def test_bad_build_raises(cfg, shapes, key):
    cell = ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=4, **cfg))
    with pytest.raises(ValueError, match=f"ReciprocalGatedCell.*{key}"):
        cell.build(*shapes)


def test_gradients_reach_every_variable_over_three_steps():
    cfg = median_config(shape=[4, 4], out_depth=4, cell_depth=3, tau_depth_separable=False,
                        tau_filter_size=3, gate_filter_size=3, cell_residual=True, input_to_tau=True, input_to_gate=True,
                        residual_to_cell_tau=True, residual_to_cell_gate=True, residual_to_out_tau=True,
                        residual_to_out_gate=True, layer_norm=True)
    cell, x, fb, r, states = make(cfg, 4, 2, 3)
    with tf.GradientTape() as tape:
        loss = 0.0
        for _ in range(3):
            out, states = cell(x, states, feedback=fb, res_input=r)
            loss += tf.reduce_sum(out ** 2)
        loss += tf.add_n(cell.losses)
    grads = tape.gradient(loss, cell.trainable_variables)
    assert len(grads) == len(cell.trainable_variables) > 20
    for v, g in zip(cell.trainable_variables, grads):
        assert g is not None and float(tf.reduce_max(tf.abs(g))) > 0, v.name


def test_mixed_bfloat16():
    cfg = median_config(shape=[6, 6], out_depth=4, cell_depth=3, layer_norm=True)
    ref_cell, x, fb, r, states = make(cfg, 4, 2, 3)
    keras.config.set_dtype_policy("mixed_bfloat16")
    cell = ReciprocalGatedCell(**cfg)
    cell.build((None, 6, 6, 4), (None, 6, 6, 2), (None, 6, 6, 3))
    assert cell.compute_dtype == "bfloat16" and all(v.dtype == "float32" for v in cell.weights)
    cell.set_weights(ref_cell.get_weights())
    s_bf, s_32 = states, states
    for _ in range(3):
        out, s_bf = cell(x, s_bf, feedback=fb, res_input=r)
        want, s_32 = ref_cell(x, s_32, feedback=fb, res_input=r)
        assert out.dtype == tf.bfloat16 and all(s.dtype == tf.float32 for s in s_bf)
    err = np.abs(out.numpy().astype("float32") - want.numpy()).max()
    assert err < 0.1 * max(1.0, float(np.abs(want.numpy()).max())), err
