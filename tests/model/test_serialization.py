"""Config round trips of every layer, `.keras` save/load and SavedModel export."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN, Harbor, Node
from convrnn_tf.model import ops as op_layers
from convrnn_tf.cells import TimeDecay, PassThrough

X = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")


def spec():
    return builders.chain(5, input_shape=(16, 16, 3), base_depth=4, classes=6, feedback=[("conv4", "conv2")])


def _round_trip(layer):
    again = layer.__class__.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    return again


@pytest.mark.parametrize("layer,shape,args", [
    (op_layers.Conv(5, [3, 3], strides=[2, 2], activation="elu", bias=0.5, weight_decay=1e-4), (2, 9, 9, 3), ()),
    (op_layers.FC(4, activation="relu", bias=1.0), (2, 3, 3, 2), ()),
    (op_layers.Pool("max", 2, 2, "SAME"), (2, 7, 7, 3), ()),
    (op_layers.Pool("avg", 3, 1, "VALID"), (2, 7, 7, 3), ()),
    (op_layers.GlobalPool("avg"), (2, 4, 4, 3), ()),
    (op_layers.Flatten(), (2, 4, 4, 3), ()),
    (op_layers.Activation("tanh"), (2, 4), ()),
    (op_layers.ResidualAdd(), (2, 4, 4, 6), ((2, 8, 8, 3),)),
    (Harbor((6, 6), "concat"), None, ((2, 3, 3, 2), (2, 6, 6, 1))),
    (Harbor((6, 6), "concat", split=True), None, ((2, 3, 3, 2), (2, 6, 6, 1), (2, 2, 2, 4))),
    (Harbor(None, "concat"), None, ((2, 3, 3, 2), (2, 5))),
])
def test_layer_config_round_trip_gives_identical_outputs(layer, shape, args):
    rng = np.random.default_rng(1)
    if isinstance(layer, Harbor):
        xs = [rng.normal(size=s).astype("float32") for s in args]
        out = layer(xs)
        again = _round_trip(layer)
        out2 = again(xs)
        for a, b in zip(tf.nest.flatten(out), tf.nest.flatten(out2)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        return
    x = rng.normal(size=shape).astype("float32")
    extra = [rng.normal(size=s).astype("float32") for s in args]
    if extra:
        layer.build(x.shape, extra[0].shape)
    y = layer(x, *extra)
    again = _round_trip(layer)
    if extra:
        again.build(x.shape, extra[0].shape)
    else:
        again.build(x.shape)
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(again(x, *extra)), np.asarray(y))


@pytest.mark.parametrize("cell", [TimeDecay(0.7, trainable=True), TimeDecay(), PassThrough()])
def test_memory_cell_round_trip(cell):
    cell.build((None, 3, 3, 2))
    again = _round_trip(cell)
    again.build((None, 3, 3, 2))
    again.set_weights(cell.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 2)).astype("float32")
    s = cell.get_initial_state(2)
    s = tuple(np.ones_like(v) for v in s)
    for a, b in zip(tf.nest.flatten(cell(x, s)), tf.nest.flatten(again(x, s))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_time_decay_equation():
    cell = TimeDecay(0.25, trainable=True)
    cell.build((None, 2))
    x, s = np.array([[1.0, -2.0]], "float32"), np.array([[4.0, 8.0]], "float32")
    y, (s2,) = cell(x, (s,))
    np.testing.assert_allclose(np.asarray(y), 0.25 * s + x)
    np.testing.assert_allclose(np.asarray(s2), 0.25 * s + x)
    assert [v.trainable for v in cell.weights] == [True]
    assert [v.trainable for v in TimeDecay().weights] == []


def test_node_config_round_trip():
    s = spec()
    node = Node(s.nodes["conv2"], s.shapes["conv2"])
    node.build()
    again = _round_trip(node)
    again.build()
    again.set_weights(node.get_weights())
    xs = [np.random.default_rng(0).normal(size=(2,) + s.shapes[p].output).astype("float32")
          for p in s.shapes["conv2"].inputs]
    st = node.get_initial_state(2)
    for a, b in zip(tf.nest.flatten(node(xs, st)), tf.nest.flatten(again(xs, st))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_model_keras_file_round_trip(tmp_path):
    model = ConvRNN(spec(), times=7, presentation="movie", image_off=5, decoder="w_avg_t")
    y = model(X)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.times == 7 and loaded.presentation == model.presentation
    np.testing.assert_array_equal(np.asarray(loaded(X)), np.asarray(y))
    again = ConvRNN.from_config(model.get_config())
    again.build()
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(np.asarray(again(X)), np.asarray(y))


def test_model_export_saved_model(tmp_path):
    model = ConvRNN(spec(), times=6)
    y = model(X)
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(np.asarray(served.serve(X)), np.asarray(y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("decoder,cell", [("last", "rgc"), ("mlp", "lstm"), ("conv1d", "timedecay"),
                                          ("thresh", "simplernn")])
def test_tf_checkpoint_holds_every_weight(tmp_path, decoder, cell):
    """tf.train.Checkpoint (used by training) must see sub-layers in lists and variables in dicts."""
    kwargs = {"times": 12, "decoder_start": 5} if decoder == "conv1d" else {"times": 7}
    make_spec = lambda: builders.chain(5, input_shape=(16, 16, 3), base_depth=4, classes=6, cell=cell,  # noqa: E731
                                       feedback=[("conv4", "conv2")])
    model = ConvRNN(make_spec(), decoder=decoder, **kwargs)
    model.build()
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    saved = [k for k in tf.train.load_checkpoint(path).get_variable_to_shape_map() if k.startswith("model/")]
    assert len(saved) == len(model.weights)
    other = ConvRNN(make_spec(), decoder=decoder, **kwargs)
    other.build()
    tf.train.Checkpoint(model=other).restore(path).assert_consumed()
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
