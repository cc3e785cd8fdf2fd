"""Presentation schedules, presets, user videos, input checks and mixed precision."""

import numpy as np
import pytest
import keras

from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.model.presentation import resolve


def small(depth=3):
    return builders.chain(depth, input_shape=(8, 8, 3), base_depth=2, classes=3)


@pytest.mark.parametrize("kind,nodes,times,want_times,image_off", [
    ("default", 6, None, 16, 12),
    ("default", 11, None, 17, 12),
    ("neural", 11, None, 26, 10),
    ("neural", 6, 30, 30, 10),
])
def test_presets(kind, nodes, times, want_times, image_off):
    pres, t = resolve(kind, times, None, 0.5, nodes)
    assert (pres.kind, pres.image_off, t) == ("movie", image_off, want_times)
    assert [pres.is_image(s) for s in (image_off - 1, image_off)] == [True, False]


@pytest.mark.parametrize("args,match", [
    (("bogus",), "presentation must be one of"),
    (("movie", 5), "needs image_off"),
    (("constant", 5, 3), "image_off is meaningless"),
    (("default", None, None, 0.5, 7), "pass times="),
    (("constant", 0), "times must be a positive int"),
    (("constant", 5, None, "grey"), "blank must be a number"),
])
def test_bad_presentations(args, match):
    with pytest.raises(ValueError, match=match):
        resolve(*args)


def test_movie_equals_a_user_video_with_blank_frames():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    movie = ConvRNN(small(), times=6, presentation="movie", image_off=2, blank=0.25)
    video = ConvRNN(small(), times=6, presentation="video")
    movie.build()
    video.build()
    video.set_weights(movie.get_weights())
    frames = np.stack([x, x] + [np.full_like(x, 0.25)] * 4, axis=1)
    a = movie.unroll(x, outputs="all")
    b = video.unroll(frames, outputs="all")
    for n in a:
        np.testing.assert_allclose(np.asarray(a[n]), np.asarray(b[n]), rtol=1e-6, atol=1e-6)
    # A movie differs from the constant presentation once the image is off.
    const = ConvRNN(small(), times=6)
    const.build()
    const.set_weights(movie.get_weights())
    c = const.unroll(x)["readout"]
    np.testing.assert_allclose(np.asarray(c[:, :4]), np.asarray(a["readout"][:, :4]), rtol=1e-6)
    assert not np.allclose(np.asarray(c[:, 5]), np.asarray(a["readout"][:, 5]))


def test_inputs_of_any_size_are_resized_to_the_input_node():
    model = ConvRNN(small(), times=4)
    assert model(np.zeros((1, 20, 13, 3), "float32")).shape == (1, 3)


def test_default_times_and_start_times():
    model = ConvRNN(small(4))
    assert model.times == 5  # 4 nodes on the longest feedforward path, plus one
    assert model.layer_start_times == {"conv1": 1, "conv2": 2, "conv3": 3, "readout": 4}


@pytest.mark.parametrize("x,match", [
    (np.zeros((2, 8, 8, 4), "float32"), r"C=3 for input node 'conv1'"),
    (np.zeros((8, 8, 3), "float32"), r"\[B, H, W, C\] images"),
])
def test_bad_inputs(x, match):
    with pytest.raises(ValueError, match=match):
        ConvRNN(small(), times=4)(x)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="video has 3 frames"):
        ConvRNN(small(), times=4, presentation="video")(np.zeros((1, 3, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="decoder window"):
        ConvRNN(small(), times=3, decoder="w_avg")  # the window starts at step 3 (3 nodes)
    with pytest.raises(ValueError, match="unknown node 'conv9'"):
        ConvRNN(small(), times=4).unroll(np.zeros((1, 8, 8, 3), "float32"), outputs=["conv9"])
    with pytest.raises(ValueError, match="image_off=9 is after"):
        ConvRNN(small(), times=4, presentation="movie", image_off=9)


def test_mixed_bfloat16_runs_with_float32_state_and_logits():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = ConvRNN(builders.chain(4, input_shape=(8, 8, 3), base_depth=2, classes=3, recurrent_from=1), times=5)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    y = model(x)
    assert y.dtype == "float32" and np.isfinite(np.asarray(y)).all()
    assert all(v.dtype == "float32" for v in model.weights)
    assert model.node("conv2").pre_ops[0].compute_dtype == "bfloat16"
    seqs = model.unroll(x, outputs=["conv2"])
    assert seqs["conv2"].dtype == "bfloat16"
