"""NumPy one-step references of the recurrent cells, written from the equations of
shared/docs/original-convrnns.md (sections 4.2-4.6), not from the Keras layers.

Everything is computed in float64. Weights are passed as plain arrays (taken from the layers
under test), so each function is an independent re-implementation of one time step.
"""

import numpy as np


def conv2d_same(x, w, b=None):
    """Stride-1 TF 'SAME' conv: x [B,H,W,Cin], w [kh,kw,Cin,Cout]; an even kernel puts the
    extra padding row/column at the bottom/right, as TF does."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    _, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    y = np.zeros(x.shape[:3] + (cout,), np.float64)
    for di in range(kh):
        for dj in range(kw):
            y += np.einsum("bhwc,co->bhwo", xp[:, di:di + h, dj:dj + wd, :], w[di, dj])
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return y


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def relu(x):
    return np.maximum(x, 0)


def layer_norm(x, gamma, beta, eps=1e-12):
    """tf.contrib.layers.layer_norm: statistics over H, W, C jointly per example, per-channel
    gamma/beta."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _split(z, n):
    return np.split(z, n, axis=-1)


def lstm_step(x, c, h, w, forget_bias=1.0, peep=None, ln=None):
    """Section 4.4. w = {'weights', 'bias'}; peep = {'f','i','o'} [H,W,C] maps or None;
    ln = {'input','transform','forget','output','state'} -> (gamma, beta) or None.
    Returns (output h', (c', h'))."""
    z = conv2d_same(np.concatenate([x, h], -1), w["weights"], w["bias"])
    i, j, f, o = _split(z, 4)
    if ln is not None:
        i = layer_norm(i, *ln["input"])
        j = layer_norm(j, *ln["transform"])
        f = layer_norm(f, *ln["forget"])
        o = layer_norm(o, *ln["output"])
    if peep is not None:
        new_c = c * sigmoid(f + forget_bias + peep["f"] * c)
        new_c = new_c + sigmoid(i + peep["i"] * c) * np.tanh(j)
    else:
        new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
    if ln is not None:
        new_c = layer_norm(new_c, *ln["state"])
    if peep is not None:
        new_h = np.tanh(new_c) * sigmoid(o + peep["o"] * c)  # old c
    else:
        new_h = np.tanh(new_c) * sigmoid(o)
    return new_h, (new_c, new_h)


def gru_step(x, h, gates, candidates, forget_bias=1.0, ln=None):
    """Section 4.3 (forget_bias on the reset gate). gates/candidates = (weights, bias);
    ln = {'r_pre','u_pre','c_pre'} -> (gamma, beta) or None."""
    r_pre, u_pre = _split(conv2d_same(np.concatenate([x, h], -1), *gates), 2)
    if ln is not None:
        r_pre = layer_norm(r_pre, *ln["r_pre"])
        u_pre = layer_norm(u_pre, *ln["u_pre"])
    r = sigmoid(r_pre + forget_bias)
    u = sigmoid(u_pre)
    c_pre = conv2d_same(np.concatenate([x, r * h], -1), *candidates)
    if ln is not None:
        c_pre = layer_norm(c_pre, *ln["c_pre"])
    new_h = u * h + (1 - u) * np.tanh(c_pre)
    return new_h, (new_h,)


def ugrnn_step(x, h, weights, bias, forget_bias=1.0):
    """Section 4.5: columns g | c."""
    g_act, c_act = _split(conv2d_same(np.concatenate([x, h], -1), weights, bias), 2)
    g = sigmoid(g_act + forget_bias)
    new_h = g * h + (1 - g) * np.tanh(c_act)
    return new_h, (new_h,)


def intersection_step(x, h, weights, bias, forget_bias=1.0, ln=None):
    """Section 4.6: columns gh | h | gy | y; output y, state h'."""
    gh, hh, gy, yy = _split(conv2d_same(np.concatenate([x, h], -1), weights, bias), 4)
    if ln is not None:
        gh = layer_norm(gh, *ln["gh_act"])
        hh = layer_norm(hh, *ln["h_act"])
        gy = layer_norm(gy, *ln["gy_act"])
        yy = layer_norm(yy, *ln["y_act"])
    gh = sigmoid(gh + forget_bias)
    gy = sigmoid(gy + forget_bias)
    new_h = gh * h + (1 - gh) * np.tanh(hh)
    y = gy * x + (1 - gy) * relu(yy)
    return y, (new_h,)


def simple_rnn_step(x, h, i_conv, s_conv, ln=None):
    """Section 4.2: h' = elu(LN(conv_i(x) + conv_s(h)))."""
    pre = conv2d_same(x, *i_conv) + conv2d_same(h, *s_conv)
    if ln is not None:
        pre = layer_norm(pre, *ln)
    new_h = elu(pre)
    return new_h, (new_h,)


# ------------------------------------------------------------------------------------------------
# Small drivers shared by the cell tests (NumPy in, NumPy out; they only use the cell's public API).


def weights_by_name(cell):
    """{path below the cell: array}, e.g. 'weights', 'input/gamma', 'gates/bias'."""
    return {v.path.split("/", 1)[1]: np.asarray(v.numpy(), np.float64) for v in cell.weights}


def randomize_weights(cell, rng, scale=0.4):
    """Random values for every weight (random biases, gammas and betas included)."""
    cell.set_weights(
        [rng.normal(0.0, scale, size=w.shape).astype("float32") for w in cell.get_weights()]
    )


def random_states(cell, input_shape, batch, rng, scale=0.8):
    """Non-zero float32 states of the cell's state shapes."""
    return tuple(
        rng.normal(0.0, scale, size=(batch,) + tuple(s)).astype("float32")
        for s in cell.state_shapes(input_shape)
    )


def run_cell(cell, xs, states):
    """Run ``cell`` over the inputs ``xs``; returns ([outputs], final states) as NumPy arrays."""
    outs = []
    for x in xs:
        y, states = cell(x, states)
        outs.append(np.asarray(y))
    return outs, tuple(np.asarray(s) for s in states)


def run_reference(step, xs, states):
    """Run a NumPy ``step(x, *states) -> (y, states)`` over ``xs``."""
    outs = []
    for x in xs:
        y, states = step(np.asarray(x, np.float64), *states)
        outs.append(y)
    return outs, states


# ------------------------------------------------------------------------------------------------
# Contract checks shared by the cell tests (these use Keras/TF, imported lazily).


def check_config_round_trip(cell, input_shape, rng, steps=2):
    """get_config/from_config and serialize/deserialize give cells with identical outputs."""
    import keras

    xs = [rng.normal(size=(2,) + tuple(input_shape[1:])).astype("float32") for _ in range(steps)]
    states = random_states(cell, input_shape, 2, rng)
    want, want_states = run_cell(cell, xs, states)
    config = cell.get_config()
    clones = [
        type(cell).from_config(config),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell)),
    ]
    for clone in clones:
        assert type(clone) is type(cell)
        assert clone.get_config() == config
        clone.build(input_shape)  # deserialization may have built it already: then a no-op
        clone.set_weights(cell.get_weights())
        got, got_states = run_cell(clone, xs, states)
        for a, b in zip(got + list(got_states), want + list(want_states)):
            np.testing.assert_array_equal(a, b)


def check_gradients(cell, input_shape, rng, steps=3):
    """Every trainable variable gets a non-None, finite, non-zero gradient over ``steps`` steps."""
    import tensorflow as tf

    shape = (2,) + tuple(input_shape[1:])
    xs = [tf.constant(rng.normal(size=shape).astype("float32")) for _ in range(steps)]
    states = tuple(tf.constant(s) for s in random_states(cell, input_shape, 2, rng))
    with tf.GradientTape() as tape:
        loss = 0.0
        for x in xs:
            y, states = cell(x, states)
            loss += tf.reduce_sum(tf.square(y))
        loss += sum(tf.reduce_sum(tf.square(s)) for s in states)
    variables = cell.trainable_variables
    assert variables
    grads = tape.gradient(loss, variables)
    for v, g in zip(variables, grads):
        assert g is not None, v.path
        g = np.asarray(g)
        assert np.all(np.isfinite(g)), v.path
        assert np.any(g != 0), v.path


def check_mixed_bfloat16(make_cell, input_shape, rng, steps=3):
    """Under mixed_bfloat16: bf16 output, float32 states, close to the float32 cell's numbers."""
    import keras

    keras.config.set_dtype_policy("float32")
    ref = make_cell()
    ref.build(input_shape)
    randomize_weights(ref, rng, scale=0.2)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        cell = make_cell()
        cell.build(input_shape)
        assert cell.compute_dtype == "bfloat16"
        assert all(v.dtype == "float32" for v in cell.weights)
        cell.set_weights(ref.get_weights())
        shape = (2,) + tuple(input_shape[1:])
        xs = [rng.normal(size=shape).astype("float32") for _ in range(steps)]
        states = cell.get_initial_state(2, input_shape)
        dtype = keras.backend.standardize_dtype
        assert all(dtype(s.dtype) == "float32" for s in states)
        ref_states = states
        for x in xs:
            y, states = cell(x, states)
            assert dtype(y.dtype) == "bfloat16"
            assert all(dtype(s.dtype) == "float32" for s in states)
            y_ref, ref_states = ref(x, ref_states)
            np.testing.assert_allclose(np.asarray(y, np.float32), np.asarray(y_ref), atol=0.1)
        for s, s_ref in zip(states, ref_states):
            np.testing.assert_allclose(np.asarray(s), np.asarray(s_ref), atol=0.1)
    finally:
        keras.config.set_dtype_policy("float32")
