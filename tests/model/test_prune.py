"""Pruned unrolls equal the naive full unroll, and skip exactly the node-steps that cannot matter."""

import numpy as np
import pytest

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN


def _pair(spec, **kwargs):
    pruned = ConvRNN(spec, prune=True, **kwargs)
    naive = ConvRNN(spec, prune=False, **kwargs)
    pruned.build()
    naive.build()
    naive.set_weights(pruned.get_weights())
    return pruned, naive


SPECS = {
    "chain": lambda: builders.chain(5, input_shape=(16, 16, 3), base_depth=4, classes=7),
    "feedback": lambda: builders.chain(6, input_shape=(16, 16, 3), base_depth=4, classes=7,
                                       feedback=[("conv5", "conv2"), ("conv4", "conv3")]),
    "stateful_readout": lambda: builders.chain(4, input_shape=(12, 12, 3), base_depth=4, classes=5,
                                               stateful_readout=True, feedback=[("conv3", "conv1")]),
}


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("decoder,kwargs", [
    ("last", {"times": 8}),
    ("w_avg", {"times": 9}),
    ("max_conf", {"times": 9, "presentation": "movie", "image_off": 4}),
    ("thresh", {"times": 10, "decoder_start": 3}),
])
@pytest.mark.parametrize("batch", [1, 3])
def test_call_pruned_equals_naive(spec_name, decoder, kwargs, batch):
    pruned, naive = _pair(SPECS[spec_name](), decoder=decoder, **kwargs)
    x = np.random.default_rng(batch).uniform(-2, 2, (batch,) + pruned.spec.nodes["conv1"].shape).astype("float32")
    np.testing.assert_allclose(np.asarray(pruned(x)), np.asarray(naive(x)), rtol=1e-5, atol=1e-6)
    assert pruned.plan().batched_node_steps < naive.plan().batched_node_steps


@pytest.mark.parametrize("outputs,steps", [(["conv2"], None), (["conv1", "readout"], None), ("all", None),
                                           (["readout"], [4, 6]), (["conv3", "conv1"], [2])])
def test_unroll_pruned_equals_naive(outputs, steps):
    pruned, naive = _pair(SPECS["feedback"](), times=7, presentation="movie", image_off=3)
    x = np.random.default_rng(0).uniform(-2, 2, (2, 16, 16, 3)).astype("float32")
    a, b = pruned.unroll(x, outputs=outputs, steps=steps), naive.unroll(x, outputs=outputs, steps=steps)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].shape[:2] == (2, 7 if steps is None else len(steps))
        np.testing.assert_allclose(np.asarray(a[name]), np.asarray(b[name]), rtol=1e-5, atol=1e-6)
    if steps is not None:
        full = naive.unroll(x, outputs=outputs)
        for name in a:
            np.testing.assert_allclose(np.asarray(a[name]), np.asarray(full[name])[:, steps], rtol=1e-5, atol=1e-6)


def test_gradients_pruned_equal_naive():
    import tensorflow as tf

    pruned, naive = _pair(SPECS["feedback"](), times=7)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    grads = []
    for model in (pruned, naive):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x, training=True)))
        grads.append(tape.gradient(loss, model.trainable_variables))
    for ga, gb, v in zip(*grads, pruned.trainable_variables):
        if ga is None or gb is None:
            assert ga is None and gb is None, v.path
            continue
        np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_eleven_layer_chain_counts():
    """The issue's figure: a stateful 11-layer chain, T=17, last step: 77 batched node-steps, not 187."""
    spec = builders.chain(11, input_shape=(32, 32, 3), base_depth=4, recurrent_from=1, stateful_readout=True)
    model = ConvRNN(spec, times=17)
    plan = model.plan()
    assert plan.batched_node_steps == 77
    assert plan.shared_node_steps == sum(range(11))  # node k (0-based) before step k, at batch 1
    assert ConvRNN(spec, times=17, prune=False).plan().batched_node_steps == 187
    # A readout without memory needs only its last step.
    lean = builders.chain(11, input_shape=(32, 32, 3), base_depth=4, recurrent_from=1)
    assert ConvRNN(lean, times=17).plan().batched_node_steps == 71


def test_blank_frames_are_shared_across_the_batch():
    spec = builders.chain(3, input_shape=(8, 8, 3), base_depth=2, classes=3)
    model = ConvRNN(spec, times=6, presentation="movie", image_off=2)
    # conv1 has a frozen zero decay (no state): after the image goes off it sees only blanks.
    steps = {t: dict(s) for t, s in enumerate(model.plan(outputs=["conv1"]).steps)}
    assert [steps[t]["conv1"] for t in range(6)] == [True, True, False, False, False, False]
