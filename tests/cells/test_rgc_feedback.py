"""The reciprocal gated cell (the only cell with takes_feedback) refuses feedback whose shape does
not fit its input and config, at build (before any weight is made) and at call."""

import numpy as np
import pytest
import tensorflow as tf

from convrnn_tf.cells.reciprocal_gated import ReciprocalGatedCell, median_config
from tests.cells.rgc_cases import B, make, small_shallow

FB_IN, FB_RES = (None, 4, 4, 4), (None, 4, 4, 4)


@pytest.mark.parametrize("feedback_shape, match", [
    ((None, 4, 4), r"feedback_shape: expected rank 4 \[B, H, W, C\], got \(None, 4, 4\)"),
    ((None, 4, 4, 2, 1), r"feedback_shape: expected rank 4"),
    (3, r"feedback_shape: expected a shape \[B, H, W, C\], got 3"),
    ((None, 4, 4, None), r"feedback_shape: H, W and C must be known"),
    ((None, 4, 4, 0), r"feedback_shape: H, W and C must be positive"),
    ((None, 2, 2, 3), r"feedback_shape: spatial size \(2, 2\) does not match the cell's \(4, 4\).*harbor"),
    ((None, 4, 3, 3), r"feedback_shape: spatial size \(4, 3\) does not match"),
])
@pytest.mark.parametrize("entry", ["input", "cell", "out"])
def test_feedback_shape_inconsistent_with_the_input_is_refused_at_build(feedback_shape, match, entry):
    cell = ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=4, cell_depth=3,
                                               feedback_entry=entry))
    with pytest.raises(ValueError, match=f"^ReciprocalGatedCell: {match}"):
        cell.build(FB_IN, feedback_shape, FB_RES)
    assert cell.weights == []  # refused before any weight was made


def test_feedback_batch_must_match_the_input_batch():
    cell = ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=4, cell_depth=3))
    with pytest.raises(ValueError, match=r"feedback_shape: batch size 3 does not match the input's 2"):
        cell.build((2, 4, 4, 4), (3, 4, 4, 2), (2, 4, 4, 4))
    cell.build((2, 4, 4, 4), (None, 4, 4, 2), (2, 4, 4, 4))  # an unknown batch is fine


@pytest.mark.parametrize("c_fb", [3, 5])
def test_shallow_feedback_into_cell_needs_cell_depth_channels(c_fb):
    """cells.py adds the feedback itself to its projection at "cell": C_fb must be cell_depth."""
    cfg = small_shallow(shape=(4, 4), depth=4, feedback_entry="cell")
    cell = ReciprocalGatedCell(**cfg)
    match = (r"feedback_entry: 'cell' with variant 'shallow' .* feedback_shape needs cell_depth \(4\) "
             f"channels, got {c_fb}")
    with pytest.raises(ValueError, match=match):
        cell.build(FB_IN, (None, 4, 4, c_fb), FB_RES)
    assert cell.weights == [] and not cell.built
    cell.build(FB_IN, (None, 4, 4, 4), FB_RES)  # the same cell builds with cell_depth channels
    assert cell.original_variable_map()["ReciprocalGateCell/cell/feedback/weights"].shape == (3, 3, 4, 4)


@pytest.mark.parametrize("variant, entry", [("median", "cell"), ("shallow", "out"), ("shallow", "input")])
def test_other_feedback_entries_take_any_channel_count(variant, entry):
    cfg = (median_config(shape=[4, 4], out_depth=4, cell_depth=3, feedback_entry=entry)
           if variant == "median" else small_shallow(shape=(4, 4), feedback_entry=entry))
    cell = ReciprocalGatedCell(**cfg)
    cell.build(FB_IN, (None, 4, 4, 7), FB_RES)
    assert cell._c_fb == 7


def test_feedback_into_a_cell_without_cell_state_is_a_config_error():
    with pytest.raises(ValueError, match="ReciprocalGatedCell: feedback_entry: 'cell' needs the cell"):
        ReciprocalGatedCell(**median_config(shape=[4, 4], out_depth=4, gate_filter_size=[0, 0],
                                            feedback_entry="cell"))


def test_feedback_at_call_must_match_the_built_shape():
    cell, x, fb, r, states = make(median_config(shape=[4, 4], out_depth=4, cell_depth=3), 4, 2, 4)
    cell(x, states, feedback=fb, res_input=r)
    for bad in (np.zeros((B, 4, 4, 3), "float32"), np.zeros((B, 2, 2, 2), "float32")):
        with pytest.raises(ValueError, match=r"ReciprocalGatedCell: feedback has shape .*built for \(B, 4, 4, 2\)"):
            cell(x, states, feedback=bad, res_input=r)
    traced = tf.function(lambda f: cell(x, states, feedback=f, res_input=r)[0])
    spec = tf.TensorSpec((None, 4, 4, 2), tf.float32)  # an unknown batch passes the check
    np.testing.assert_allclose(traced.get_concrete_function(spec)(tf.constant(fb)).numpy(),
                               cell(x, states, feedback=fb, res_input=r)[0].numpy(), rtol=1e-5, atol=1e-6)
