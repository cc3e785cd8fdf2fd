"""Original TF1 checkpoints load by name into the zoo models.

The real checkpoints are not reachable, so each test writes one in the original's TF1 naming
(graph mode, ``tf.compat.v1`` variable scopes and ``Saver``) from known random arrays. The list of
names and shapes is parsed from Appendix A of the shared ``original-convrnns.md`` (the independent
reference); the loaded model is then checked against NumPy re-implementations that read those
arrays by their original names (tests/numpy_reference.py, tests/cells/*_reference.py), so a
mapping that sent, say, the tau kernel to the gate would fail.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from convrnn_tf import zoo
from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from tests import numpy_reference as nref
from tests.cells import cell_reference as cref
from tests.cells.rgc_reference import Reference

# Doc section 4.9: layers whose memory_decay is frozen at 0 (everything else with a decay learns it).
FROZEN = {"shallow": ("conv1", "conv2", "imnetds"), "intermediate": ("conv1", "conv2", "conv3", "imnetds")}
A_TAU, A_GATE = 0.9219348064291611, 0.7006566684988862  # doc 4.8 (median RGC)


# ------------------------------------------------------------------------------------ helpers
def appendix(shared_dir):
    """{model: [(name, shape)]} for the 14 base models, plus {"tmaxconf"|"dthresh": [...]} extras."""
    text = (shared_dir / "docs" / "original-convrnns.md").read_text(encoding="utf-8")
    text = text[text.index("## Appendix A"):]
    out = {}
    for name, body in re.findall(r"#### (\w+)  \(\d+ variables[^\n]*\n```\n(.*?)```", text, re.S):
        out[name] = [(var, tuple(int(d) for d in re.findall(r"\d+", shape)))
                     for var, shape in (line.split(" ", 1) for line in body.strip().splitlines())]
    for suffix in ("tmaxconf", "dthresh"):
        line = re.search(rf"\* `\*_{suffix}`: (.*)", text).group(1)
        names = re.findall(r"`(tnn_model/[\w/]+) \[1\]`", line)
        if "same three" in line:
            names = [n for n, _ in out["tmaxconf"]] + names
        out[suffix] = [(n, (1,)) for n in names]
    return out


def doc_variables(shared_dir, model):
    table = appendix(shared_dir)
    base = model.replace("_t22", "").replace("_t30", "").replace("_tmaxconf", "").replace("_dthresh", "")
    extra = next((table[s] for s in ("tmaxconf", "dthresh") if model.endswith("_" + s)), [])
    return table[base] + extra


def random_arrays(model, variables, seed=0):
    rng = np.random.default_rng(seed)
    depth = "shallow" if "shallow" in model else "intermediate"
    out = {}
    for name, shape in variables:
        leaf, node = name.rsplit("/", 1)[-1], name.split("/")[1]
        if leaf == "memory_decay":
            value = np.zeros(shape) if node in FROZEN[depth] else rng.uniform(0.2, 0.8, shape)
        elif leaf in ("softmax_beta", "decoder_threshold"):
            value = rng.uniform(0.5, 2.0, shape) if leaf == "softmax_beta" else rng.uniform(0.3, 0.6, shape)
        elif leaf == "gamma":
            value = 1 + 0.2 * rng.standard_normal(shape)
        elif len(shape) == 1 or leaf.endswith("_diag"):
            value = 0.2 * rng.standard_normal(shape)
        else:
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-1]) if len(shape) > 1 else 1)
        out[name] = value.astype(np.float32)
    return out


def write_tf1_checkpoint(prefix, arrays):
    """A TF1 Saver checkpoint: nested variable scopes, ``get_variable``, as the original graph."""
    graph = tf.Graph()
    with graph.as_default():
        inits, variables = {}, []
        for name, value in arrays.items():
            *scopes, leaf = name.split("/")
            ph = tf.compat.v1.placeholder(tf.as_dtype(value.dtype), value.shape)
            with tf.compat.v1.variable_scope("/".join(scopes) if scopes else tf.compat.v1.get_variable_scope()):
                var = tf.compat.v1.get_variable(leaf, initializer=ph, trainable=False)
            assert var.op.name == name, (var.op.name, name)
            inits[var.initializer] = (ph, value)
            variables.append(var)
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            for init, (ph, value) in inits.items():
                sess.run(init, {ph: value})
            saver.save(sess, str(prefix), write_meta_graph=False, write_state=False)
    return str(prefix)


def optimizer_extras(arrays, rng):
    """What real checkpoints also hold: Momentum slots, global_step (all to be ignored)."""
    some = sorted(arrays)[:3]
    out = {f"{n}/Momentum": rng.standard_normal(arrays[n].shape).astype(np.float32) for n in some}
    out["global_step"] = np.array(12345, np.int64)
    return out


def by_path(model):
    return {v.path: v for v in model.weights}


def sub(arrays, node, scope=""):
    head = f"tnn_model/{node}/{scope}"
    return {k[len(head):]: v.astype(np.float64) for k, v in arrays.items() if k.startswith(head)}


def random_cell_inputs(model, node, rng, scale=0.5):
    layer = model.node(node)
    s = layer.shapes
    x = scale * rng.standard_normal((1,) + s.cell_input)
    states = tuple(scale * rng.standard_normal(tuple(st.shape)) for st in layer.get_initial_state(1))
    r = None if s.res_input is None else scale * rng.standard_normal((1,) + s.res_input)
    fb = None if s.feedback is None else scale * rng.standard_normal((1,) + s.feedback)
    return x, states, r, fb


def keras_step(model, node, x, states, r=None, fb=None):
    cell = model.node(node).cell
    y, new = cell(tf.constant(x, tf.float32), tuple(tf.constant(v, tf.float32) for v in states),
                  feedback=None if fb is None else tf.constant(fb, tf.float32),
                  res_input=None if r is None else tf.constant(r, tf.float32))
    return np.asarray(y), [np.asarray(v) for v in new]


# ------------------------------------------------------------------- semantic checks per model
def check_conv1_step(model, arrays, rng):
    """conv1 at t=0: max_pool(elu(conv_stride2(frame) + b)) from the original-named arrays."""
    x = rng.uniform(-2, 2, (1, 224, 224, 3)).astype(np.float32)
    got = np.asarray(model.unroll(x, outputs=["conv1"], steps=[0])["conv1"])[:, 0]
    w, b = arrays["tnn_model/conv1/pre_0/weights_basenet"], arrays["tnn_model/conv1/pre_0/bias"]
    want = nref.max_pool_same(nref.elu(nref.conv2d(x.astype(np.float64), w, b, stride=2)))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def check_rgc_shallow(model, arrays, rng):
    check_conv1_step(model, arrays, rng)
    cfg = dict(variant="shallow", tau_filter_size=[3, 3], gate_filter_size=[3, 3], ff_filter_size=[3, 3],
               tau_nonlinearity="sigmoid", gate_nonlinearity="sigmoid", input_to_cell=True,
               residual_to_out_gate=True)  # doc 4.7, "rgc_shallow effective configuration"
    x, states, r, _ = random_cell_inputs(model, "conv3", rng)
    ref = Reference(cfg, sub(arrays, "conv3", "ReciprocalGateCell/"))
    want_y, want_states = ref.step(x, states, None, r)
    assert ref.unused() == []
    got_y, got_states = keras_step(model, "conv3", x, states, r)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-4, atol=1e-4)
    for g, w in zip(got_states, want_states):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def check_rgc_intermediate(model, arrays, rng):
    """conv6: median RGC with feedback (conv7, conv9) and a residual projection (doc 4.8)."""
    cfg = dict(variant="median", tau_filter_size=7, gate_filter_size=7, tau_depth_separable=True,
               gate_depth_separable=True, ff_filter_size=2, in_out_filter_size=3, input_to_cell=True,
               input_to_out=True, out_residual=True, input_activation="elu", feedback_activation="identity",
               feedback_entry="out", feedback_filter_size=1, tau_nonlinearity="sigmoid",
               gate_nonlinearity="tanh", tau_offset=A_TAU, tau_multiplier=-A_TAU, gate_offset=A_GATE,
               gate_multiplier=-A_GATE, tau_bias=4.147336708899556, gate_bias=2.776542926439013)
    x, states, r, fb = random_cell_inputs(model, "conv6", rng)
    assert fb.shape[-1] == 768 and r.shape[-1] == 128
    ref = Reference(cfg, sub(arrays, "conv6", "ReciprocalGateCell/"))
    want_y, _ = ref.step(x, states, fb, r)
    assert ref.unused() == []
    got_y, _ = keras_step(model, "conv6", x, states, r, fb)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-4, atol=1e-4)


def check_lstm_shallow(model, arrays, rng):
    """conv4: peepholes and layer norm; forget_bias from the lstm_shallow npz table (doc 4.4)."""
    w = sub(arrays, "conv4", "ConvLSTMCell/")
    x, (c, h), _, _ = random_cell_inputs(model, "conv4", rng)
    ln = {g: (w[f"{g}/gamma"], w[f"{g}/beta"]) for g in ("input", "transform", "forget", "output", "state")}
    peep = {g: w[f"peepholes/w_{g}_diag"] for g in "fio"}
    want_y, want_states = cref.lstm_step(x, c, h, w, 0.977962918535079, peep, ln)
    got_y, got_states = keras_step(model, "conv4", x, (c, h))
    np.testing.assert_allclose(got_y, want_y, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_states[0], want_states[0], rtol=1e-4, atol=1e-4)


def check_gru_shallow(model, arrays, rng):
    w = sub(arrays, "conv3", "ConvGRUCell/")
    x, (h,), _, _ = random_cell_inputs(model, "conv3", rng)
    want_y, _ = cref.gru_step(x, h, (w["gates/weights"], w["gates/bias"]),
                              (w["candidates/weights"], w["candidates/bias"]))
    np.testing.assert_allclose(keras_step(model, "conv3", x, (h,))[0], want_y, rtol=1e-4, atol=1e-4)


def check_simplernn_shallow(model, arrays, rng):
    w = sub(arrays, "conv3", "ConvNormBasicCell/")
    x, (h,), _, _ = random_cell_inputs(model, "conv3", rng)
    want_y, _ = cref.simple_rnn_step(x, h, (w["i/weights"], w["i/bias"]), (w["s/weights"], w["s/bias"]),
                                     (w["layer_norm/gamma"], w["layer_norm/beta"]))
    np.testing.assert_allclose(keras_step(model, "conv3", x, (h,))[0], want_y, rtol=1e-4, atol=1e-4)


def check_timedecay_shallow(model, arrays, rng):
    check_conv1_step(model, arrays, rng)
    x, (prev,), _, _ = random_cell_inputs(model, "conv4", rng)
    m = float(arrays["tnn_model/conv4/memory_decay"][0])
    np.testing.assert_allclose(keras_step(model, "conv4", x, (prev,))[0], m * prev + x, rtol=1e-5, atol=1e-5)


def check_tmaxconf(model, arrays, rng):
    """The decoder uses the stored normalize/softmax_beta: t* = argmax_t max_k softmax(beta L)."""
    beta = float(arrays["tnn_model/normalize/softmax_beta"][0])
    logits = rng.standard_normal((4, len(model.window), 1000)) * 3
    p = nref.softmax(beta * logits, axis=-1).max(axis=-1)
    want = logits[np.arange(4), p.argmax(axis=1)]
    np.testing.assert_allclose(np.asarray(model.decoder(tf.constant(logits, tf.float32))), want, rtol=1e-5)


CHECKS = {"rgc_shallow": check_rgc_shallow, "rgc_intermediate": check_rgc_intermediate,
          "lstm_shallow": check_lstm_shallow, "gru_shallow": check_gru_shallow,
          "simplernn_shallow": check_simplernn_shallow,
          "timedecay_shallow": check_timedecay_shallow, "rgc_intermediate_tmaxconf": check_tmaxconf}


# -------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", list(CHECKS))
def test_every_variable_loads_and_the_model_computes_with_it(name, shared_dir, tmp_path):
    variables = doc_variables(shared_dir, name)
    arrays = random_arrays(name, variables)
    rng = np.random.default_rng(1)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt", {**arrays, **optimizer_extras(arrays, rng)})
    model = zoo.build(name)
    report = zoo.load_original_checkpoint(model, tmp_path)  # the folder, as ckpts/<model>/
    ignored = {n for n in arrays if n.split("/")[1] in ("probs", "alpha")}
    assert report.ok, report.problems()
    assert set(report.loaded) == set(arrays) - ignored
    assert set(report.ignored) == ignored | {n for n in optimizer_extras(arrays, rng)}
    # every Keras weight received exactly one array, of the same shape and values
    weights = by_path(model)
    assert sorted(report.keras_paths[n] for n in report.loaded) == sorted(weights)
    for n in report.loaded:
        np.testing.assert_array_equal(weights[report.keras_paths[n]].numpy(), arrays[n], err_msg=n)
    assert set(zoo.original_variable_names(model)) == set(report.loaded)
    CHECKS[name](model, arrays, rng)
    assert prefix.endswith("model.ckpt")


@pytest.fixture(scope="module")
def timedecay(tmp_path_factory):
    """timedecay_shallow's doc variables and arrays, and a model (the smallest zoo model)."""
    from tests.conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip("needs the shared/ folder")
    arrays = random_arrays("timedecay_shallow", doc_variables(SHARED, "timedecay_shallow"), seed=3)
    return arrays, zoo.build("timedecay_shallow")


def _expect_refusal(model, prefix, match):
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(zoo.CheckpointError, match=match) as info:
        zoo.load_original_checkpoint(model, prefix)
    for w, b in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)  # nothing assigned
    return info.value


def test_missing_variable_is_named_and_refused_unless_partial(timedecay, tmp_path):
    arrays, model = timedecay
    gone = "tnn_model/conv3/pre_0/weights_basenet"
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt", {k: v for k, v in arrays.items() if k != gone})
    err = _expect_refusal(model, prefix, re.escape(gone))
    assert err.report.missing == [gone] and "allow_partial" in str(err)
    report = zoo.load_original_checkpoint(model, prefix, allow_partial=True)
    assert report.missing == [gone] and len(report.loaded) == len(arrays) - 1 and not report.ok
    np.testing.assert_array_equal(model.node("conv4").pre_ops[0].kernel.numpy(),
                                  arrays["tnn_model/conv4/pre_0/weights_basenet"])


def test_wrong_shape_is_named_with_both_shapes(timedecay, tmp_path):
    arrays, model = timedecay
    bad = dict(arrays)
    bad["tnn_model/conv2/pre_0/bias"] = np.zeros(64, np.float32)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt", bad)
    err = _expect_refusal(model, prefix, r"tnn_model/conv2/pre_0/bias \(checkpoint shape \[64\].*\[128\]")
    assert [n for n, _ in err.report.mismatched] == ["tnn_model/conv2/pre_0/bias"]


def test_unexpected_variable_is_named(timedecay, tmp_path):
    arrays, model = timedecay
    extra = {"tnn_model/conv6/pre_0/weights_basenet": np.ones((3, 3, 2, 2), np.float32)}
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt", {**arrays, **extra})
    err = _expect_refusal(model, prefix, "unexpected.*tnn_model/conv6/pre_0/weights_basenet")
    assert err.report.unexpected == list(extra) and not err.report.missing


def test_frozen_decay_must_be_zero(timedecay, tmp_path):
    arrays, model = timedecay
    prefix = write_tf1_checkpoint(tmp_path / "m.ckpt", {**arrays, "tnn_model/conv1/memory_decay":
                                                        np.array([0.5], np.float32)})
    _expect_refusal(model, prefix, "tnn_model/conv1/memory_decay.*frozen zero decay")


def test_not_a_checkpoint(tmp_path, timedecay):
    _, model = timedecay
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(zoo.CheckpointError, match="notes.txt: is not a TF checkpoint"):
        zoo.load_original_checkpoint(model, text)
    with pytest.raises(zoo.CheckpointError, match="nowhere.*does not exist"):
        zoo.load_original_checkpoint(model, tmp_path / "nowhere" / "model.ckpt")
    (tmp_path / "junk.ckpt.index").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(zoo.CheckpointError, match="junk.ckpt: cannot read as a TF checkpoint"):
        zoo.load_original_checkpoint(model, tmp_path / "junk.ckpt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(zoo.CheckpointError, match="no \\*.index file"):
        zoo.load_original_checkpoint(model, empty)


def test_restore_checkpoint_reads_ours_and_refuses_them_as_original(tmp_path):
    import keras

    spec = builders.chain(4, input_shape=(16, 16, 3), base_depth=4, classes=5)
    src = ConvRNN(spec, times=3)
    src.build()
    # as bin/train writes them: a CheckpointManager over model, optimizer (built on the model's
    # trainable variables) and step, found from the model_dir
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(src.trainable_variables)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=src, optimizer=optimizer, step=tf.Variable(3)),
                                         str(tmp_path / "run" / "checkpoints"), max_to_keep=1)
    prefix = manager.save()
    dst = ConvRNN(spec, times=3)
    with pytest.raises(zoo.CheckpointError, match="object-based"):
        zoo.load_original_checkpoint(dst, prefix)
    assert "convrnn_tf checkpoint" in zoo.restore_checkpoint(dst, tmp_path / "run")
    for a, b in zip(src.weights, dst.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other = ConvRNN(builders.chain(4, input_shape=(16, 16, 3), base_depth=8, classes=5), times=3)
    with pytest.raises(zoo.CheckpointError, match="does not match model"):
        zoo.restore_checkpoint(other, prefix)
    # older bin/train checkpoints hold the weights only in the optimizer's variable list
    legacy = tf.Module()
    legacy._trainable_variables = list(src.trainable_variables)
    old = tf.train.Checkpoint(optimizer=legacy).write(str(tmp_path / "legacy" / "ckpt-1"))
    fresh = ConvRNN(spec, times=3)
    assert "trainable variables" in zoo.restore_checkpoint(fresh, old)
    for a, b in zip(src.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(zoo.CheckpointError, match="does not match model.*shape"):
        zoo.restore_checkpoint(other, old)
    src.save_weights(str(tmp_path / "w.weights.h5"))
    fresh = ConvRNN(spec, times=3)
    assert "Keras weights" in zoo.restore_checkpoint(fresh, tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(fresh.weights[1].numpy(), src.weights[1].numpy())
    # an original-named checkpoint of this small model goes through restore_checkpoint too
    names = zoo.original_variable_names(src)
    assert "tnn_model/conv1/pre_0/weights" in names and "tnn_model/conv1/memory_decay" in names
    arrays = {n: np.full(v.shape, 0.0 if n.endswith("memory_decay") else 0.5, np.float32) for n, v in names.items()}
    fresh = ConvRNN(spec, times=3)
    assert "loaded" in zoo.restore_checkpoint(fresh, write_tf1_checkpoint(tmp_path / "orig.ckpt", arrays))
    assert all(np.all(w.numpy() == (0.0 if w.path.endswith("memory_decay") else 0.5)) for w in fresh.weights)
