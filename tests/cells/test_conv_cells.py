"""What every convolutional cell (lstm, gru, ugrnn, intersectionrnn, simplernn) must do: match its
NumPy reference over one and three steps, honour the cell contract (config round trip, gradients,
mixed_bfloat16, float32 states, shapes, symbolic and compiled calls) and refuse bad configs and
inputs with one ValueError naming the culprit. Cell-specific checks live in test_<cell>.py."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import convrnn_tf.cells as cells
from tests.cells import cell_reference as ref
from tests.cells.conv_cell_cases import B, C, CASES, H, W, params, weight_shapes


@pytest.mark.parametrize("case, config", params("configs"))
def test_matches_numpy_reference_one_and_three_steps(case, config):
    rng = np.random.default_rng(case.seed)
    cell = case.make(**config)
    cell.build(case.input_shape)
    ref.randomize_weights(cell, rng)
    step = case.reference(cell)
    xs = [rng.normal(size=(B, H, W, case.in_depth)).astype("float32") for _ in range(3)]
    states = ref.random_states(cell, case.input_shape, B, rng)
    assert len(states) == cell.num_states
    assert all(np.abs(s).mean() > 0.1 for s in states)
    for n in (1, 3):
        got, got_states = ref.run_cell(cell, xs[:n], states)
        want, want_states = ref.run_reference(step, xs[:n], states)
        for a, b in zip(got + list(got_states), want + list(want_states), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    if case.output_state is None:  # the output is not the state (IntersectionRNN's y)
        assert np.abs(got[-1] - got_states[0]).max() > 1e-2
    else:
        np.testing.assert_array_equal(got[-1], got_states[case.output_state])


@pytest.mark.parametrize("case", params())
def test_registry_round_trip_gradients_mixed_precision(case):
    assert cells.get(case.name) is case.cls is getattr(cells, case.cls.__name__)
    rng = np.random.default_rng(case.seed + 1)
    cell = case.make(**case.contract)
    cell.build(case.input_shape)
    ref.randomize_weights(cell, rng)
    ref.check_config_round_trip(cell, case.input_shape, rng)
    ref.check_gradients(cell, case.input_shape, rng)
    ref.check_mixed_bfloat16(lambda: case.make(**case.mixed), case.input_shape, rng)


def test_registry_lists_the_cells_and_refuses_unknown_names():
    assert set(CASES) <= set(cells.names())
    valid = "gru.*intersectionrnn.*lstm.*simplernn.*ugrnn"
    with pytest.raises(ValueError, match=f"unknown cell 'lstmm'.*{valid}"):
        cells.get("lstmm")


@pytest.mark.parametrize("case", params())
def test_config_keys_are_the_constructor_arguments(case):
    """get_config writes every constructor argument (and nothing else) besides Layer's own."""
    signature = inspect.signature(case.cls.__init__).parameters
    own = {k for k, p in signature.items() if k != "self" and p.kind != p.VAR_KEYWORD}
    config = case.make().get_config()
    layer_keys = set(keras.layers.Layer(name="x").get_config())
    assert set(config) - layer_keys == own
    defaults = case.cls(filter_size=3, out_depth=C).get_config()
    for key in own - {"filter_size", "out_depth"}:
        want = signature[key].default
        assert defaults[key] == ({} if key.endswith("_kwargs") and want is None else want), key


@pytest.mark.parametrize("case, bad", params("bad_configs"))
def test_bad_config_raises_readable_error(case, bad):
    kwargs, key = bad
    with pytest.raises(ValueError, match=f"{case.cls.__name__}.*{key}"):
        case.make(**kwargs)


@pytest.mark.parametrize("case", params())
def test_unknown_kwarg_is_refused(case):
    with pytest.raises(ValueError, match=f"{case.cls.__name__}.*no_such_key"):
        case.make(no_such_key=1)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s[:3], "rank-4"),
        (lambda s: s + (1,), "rank-4"),
        (lambda s: (None, H + 1, W, s[3]), "height 7 does not match"),
        (lambda s: (None, H, W - 1, s[3]), "width 5 does not match"),
        (lambda s: (None, H, W, None), "channel"),
    ],
    ids=["rank3", "rank5", "height", "width", "channels"],
)
@pytest.mark.parametrize("case", params())
def test_build_validates_input_shape(case, change, match):
    with pytest.raises(ValueError, match=f"{case.cls.__name__}.*{match}"):
        case.make().build(change(case.input_shape))


@pytest.mark.parametrize("case", params())
def test_build_rejects_filter_larger_than_allowed_and_unknown_size(case):
    name, cx = case.cls.__name__, case.in_depth
    with pytest.raises(ValueError, match=f"{name}: filter_size .* larger than allowed"):
        case.make(shape=None, filter_size=5).build((None, 2, 2, cx))
    case.make(shape=None, filter_size=3).build((None, 2, 2, cx))  # 3x3 on 2x2 still reaches data
    with pytest.raises(ValueError, match=f"{name}: filter_size .* larger than allowed"):
        case.make(shape=None, filter_size=4).build((None, 2, 2, cx))  # even: pads 2 bottom/right
    with pytest.raises(ValueError, match=f"{name}.*spatial size is unknown"):
        case.make(shape=None).build((None, None, None, cx))


@pytest.mark.parametrize("case", params())
def test_feedback_and_state_count_are_checked(case):
    name = case.cls.__name__
    assert case.cls.takes_feedback is False
    with pytest.raises(ValueError, match=f"{name} takes no separate feedback"):
        case.make().build(case.input_shape, feedback_shape=(None, H, W, 2))
    cell = case.make()
    cell.build(case.input_shape)
    x = np.zeros((B, H, W, case.in_depth), "float32")
    states = cell.get_initial_state(B)
    with pytest.raises(ValueError, match=f"{name} takes no separate feedback"):
        cell(x, states, feedback=np.zeros((B, H, W, 2), "float32"))
    with pytest.raises(ValueError, match=f"{name}: expects a tuple of {cell.num_states} state"):
        cell(x, states + states[:1])


@pytest.mark.parametrize("case", params())
def test_second_build_is_a_noop_for_the_same_shape(case):
    cell = case.make()
    cell.build(case.input_shape)
    weights = list(cell.weights)
    cell.build((4, H, W, case.in_depth))
    assert len(cell.weights) == len(weights)
    assert all(a is b for a, b in zip(cell.weights, weights))
    with pytest.raises(ValueError, match=f"{case.cls.__name__}: already built"):
        cell.build((None, H, W, case.in_depth + 1))


@pytest.mark.parametrize("case", params())
def test_shapes_and_float32_initial_states(case):
    cell = case.make()
    cell.build((None, None, None, case.in_depth))  # spatial size from `shape`
    assert cell.state_shapes(case.input_shape) == ((H, W, C),) * cell.num_states
    assert cell.compute_output_shape((B, H, W, case.in_depth)) == (B, H, W, C)
    states = cell.get_initial_state(B)
    assert len(states) == cell.num_states
    assert all(tuple(s.shape) == (B, H, W, C) for s in states)
    assert all(keras.backend.standardize_dtype(s.dtype) == "float32" for s in states)
    assert all(not np.any(np.asarray(s)) for s in states)


@pytest.mark.parametrize("case", params())
def test_symbolic_and_compiled_calls(case):
    cell = case.make(**case.mixed)
    cell.build(case.input_shape)
    x = keras.Input((H, W, case.in_depth))
    states_in = tuple(keras.Input((H, W, C)) for _ in range(cell.num_states))
    y, states_out = cell(x, states_in)
    assert all(tuple(t.shape) == (None, H, W, C) for t in (y,) + tuple(states_out))
    assert all(keras.backend.standardize_dtype(s.dtype) == "float32" for s in states_out)
    model = keras.Model([x, *states_in], [y, *states_out])
    rng = np.random.default_rng(case.seed + 2)
    ref.randomize_weights(cell, rng)
    xv = rng.normal(size=(B, H, W, case.in_depth)).astype("float32")
    states = ref.random_states(cell, case.input_shape, B, rng)
    eager, eager_states = ref.run_cell(cell, [xv], states)
    got = model([tf.constant(xv)] + [tf.constant(s) for s in states])
    for a, b in zip(got, eager + list(eager_states), strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6)
    compiled = tf.function(lambda a, s: cell(a, s), jit_compile=True)
    y2, states2 = compiled(tf.constant(xv), tuple(tf.constant(s) for s in states))
    for a, b in zip((y2,) + tuple(states2), eager + list(eager_states), strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-5)


# (cell, shallow layer, kwargs, input channels, weight shapes) from the doc's Appendix A: what the
# original checkpoints hold under tnn_model/<layer>/<CellScope>/ (lstm: test_lstm.py, simplernn is
# read from the shared JSON in test_simple_rnn.py)
APPENDIX_A = {
    "gru-conv3": ("gru", dict(shape=[28, 28], out_depth=256), 256, {
        "gates/weights": (3, 3, 512, 512),
        "gates/bias": (512,),
        "candidates/weights": (3, 3, 512, 256),
        "candidates/bias": (256,),
    }),
    "ugrnn-conv5": ("ugrnn", dict(shape=[7, 7], out_depth=512), 512, {
        "weights": (3, 3, 1024, 1024),
        "bias": (1024,),
    }),
    "intersectionrnn-conv4": ("intersectionrnn", dict(shape=[14, 14], out_depth=256), 256, {
        "weights": (3, 3, 512, 1024),
        "bias": (1024,),
    }),
}


@pytest.mark.parametrize("name, kwargs, in_depth, want", APPENDIX_A.values(), ids=APPENDIX_A.keys())
def test_shallow_layer_matches_appendix_a(name, kwargs, in_depth, want):
    cell = CASES[name].make(weight_decay=1e-4, kernel_initializer="zeros", **kwargs)
    cell.build((None, *kwargs["shape"], in_depth))
    assert weight_shapes(cell) == want
    assert cell.count_params() == sum(int(np.prod(s)) for s in want.values())
