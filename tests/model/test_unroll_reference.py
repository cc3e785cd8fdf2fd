"""The unroll against a NumPy re-implementation of the original's time loop (doc section 3)."""

import numpy as np
import pytest

from convrnn_tf.graph import GraphSpec
from convrnn_tf.model import ConvRNN
from tests import numpy_reference as ref

T = 5


def feedback_spec():
    """conv1 -> conv2 -> conv3 and the feedback edge conv3 -> conv1 (2x2 upsampled to 8x8)."""
    conv = lambda d, s=1: {"op": "conv", "out_depth": d, "ksize": 3, "strides": s, "activation": "elu"}  # noqa: E731
    nodes = [
        {"name": "conv1", "shape": [8, 8, 3], "pre_memory": [conv(4)],
         "memory": {"cell": "timedecay", "memory_decay": 0.5, "trainable": False}},
        {"name": "conv2", "shape_from": "conv1", "pre_memory": [conv(5, 2)],
         "memory": {"cell": "timedecay", "memory_decay": 0.3, "trainable": True}},
        {"name": "conv3", "shape_from": "conv2", "pre_memory": [conv(6)],
         "memory": {"cell": "passthrough"}, "post_memory": [{"op": "max_pool"}]},
    ]
    edges = [{"from": "conv1", "to": "conv2"}, {"from": "conv2", "to": "conv3"}, {"from": "conv3", "to": "conv1"}]
    return GraphSpec(nodes, edges, output="conv3")


def numpy_unroll(x, weights, times):
    """The original loop: every node reads its predecessors at t-1 (zeros at t=0)."""
    (w1, b1, m1), (w2, b2, m2), (w3, b3) = weights
    out = {"conv1": np.zeros((x.shape[0], 8, 8, 4)), "conv2": np.zeros((x.shape[0], 4, 4, 5)),
           "conv3": np.zeros((x.shape[0], 2, 2, 6))}
    s1, s2 = 0.0, 0.0
    history = {k: [] for k in out}
    for _ in range(times):
        fb = ref.resize_bilinear_align_corners(out["conv3"], 8, 8)
        h1 = np.concatenate([x, fb], axis=-1)  # frame first, then sorted predecessors
        s1 = m1 * s1 + ref.elu(ref.conv2d(h1, w1, b1))
        s2 = m2 * s2 + ref.elu(ref.conv2d(out["conv1"], w2, b2, stride=2))
        y3 = ref.max_pool_same(ref.elu(ref.conv2d(out["conv2"], w3, b3)))
        out = {"conv1": s1, "conv2": s2, "conv3": y3}
        for k in out:
            history[k].append(out[k])
    return {k: np.stack(v, axis=1) for k, v in history.items()}


@pytest.mark.parametrize("prune", [True, False])
def test_feedback_graph_matches_numpy_step_by_step(prune):
    rng = np.random.default_rng(1)
    model = ConvRNN(feedback_spec(), times=T, prune=prune)
    model.build()
    n1, n2, n3 = model.node("conv1"), model.node("conv2"), model.node("conv3")
    w1, b1 = rng.normal(0, 0.3, (3, 3, 9, 4)), rng.normal(0, 0.5, 4)
    w2, b2 = rng.normal(0, 0.3, (3, 3, 4, 5)), rng.normal(0, 0.5, 5)
    w3, b3 = rng.normal(0, 0.3, (3, 3, 5, 6)), rng.normal(0, 0.5, 6)
    n1.pre_ops[0].set_weights([w1, b1])
    n2.pre_ops[0].set_weights([w2, b2])
    n2.cell.decay.assign([0.3])
    n3.pre_ops[0].set_weights([w3, b3])
    x = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    got = model.unroll(x, outputs="all")
    want = numpy_unroll(x, [(w1, b1, 0.5), (w2, b2, 0.3), (w3, b3)], T)
    for name in want:
        assert got[name].shape == want[name].shape
        for t in range(T):
            np.testing.assert_allclose(np.asarray(got[name][:, t]), want[name][:, t], rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name} at t={t}")
    np.testing.assert_allclose(np.asarray(model(x)), want["conv3"][:, -1], rtol=1e-4, atol=1e-5)


def test_impulse_latency_and_feedback_delay():
    """Image only at t=0: node k first differs from a blank run at t=k-1; feedback one step later."""
    spec = feedback_spec().to_json()
    spec["nodes"][0]["memory"] = {"cell": "passthrough"}  # conv1 forgets, so only feedback brings it back
    model = ConvRNN(GraphSpec.from_dict(spec), times=6, presentation="movie", image_off=1, blank=0.0)
    x = np.random.default_rng(0).uniform(0.5, 1.0, (1, 8, 8, 3)).astype("float32")
    run = model.unroll(x, outputs="all")
    blank = model.unroll(np.zeros_like(x), outputs="all")
    differs = {n: [not np.allclose(run[n][:, t], blank[n][:, t], atol=1e-7) for t in range(6)] for n in run}
    assert differs["conv1"][:4] == [True, False, False, True]  # image at 0; conv3 (differs at 2) feeds back at 3
    assert differs["conv2"].index(True) == 1
    assert differs["conv3"].index(True) == 2
