"""The original's layer norm (TF 1.x ``tf.contrib.layers.layer_norm`` with its defaults).

Each example is normalised over **all** non-batch axes jointly (for ``[B, H, W, C]``: over H, W
and C together, ``begin_norm_axis=1``), then scaled and shifted by a **per-channel** gamma and
beta (``begin_params_axis=-1``), with a variance epsilon of ``1e-12``::

    y = (x - mean) / sqrt(var + 1e-12) * gamma + beta      # mean, var over H, W, C per example

This is neither ``keras.layers.LayerNormalization(axis=-1)`` (per-position statistics) nor
``axis=[1, 2, 3]`` (which would create ``[H, W, C]`` parameters). Statistics are always computed in
float32, whatever the input dtype; the result has the input's dtype.

Stable API (used by several cells):

* `joint_layer_norm(x, gamma=None, beta=None, epsilon=1e-12)`: the function.
* `JointLayerNorm(gamma_init=1.0, beta_init=0.0, epsilon=1e-12)`: a layer owning ``gamma`` and
  ``beta`` (shape ``[C]``, initialised to the constants, not regularised: the original attaches no
  regulariser to them). Cells create one per normalised quantity and name it after the original's
  variable scope (e.g. ``name="forget"`` gives the weights ``.../forget/gamma`` and
  ``.../forget/beta``).
"""

from __future__ import annotations

import keras
from keras import ops

#: The variance epsilon of TF 1.x ``tf.contrib.layers.layer_norm``.
EPSILON = 1e-12


def joint_layer_norm(x, gamma=None, beta=None, epsilon=EPSILON):
    """Normalise each example of ``x`` over all non-batch axes jointly; per-channel gamma/beta."""
    dtype = x.dtype
    x32 = ops.cast(x, "float32")
    axes = tuple(range(1, len(x32.shape)))
    mean = ops.mean(x32, axis=axes, keepdims=True)
    var = ops.mean(ops.square(x32 - mean), axis=axes, keepdims=True)
    y = (x32 - mean) * ops.rsqrt(var + epsilon)
    if gamma is not None:
        y = y * ops.cast(gamma, "float32")
    if beta is not None:
        y = y + ops.cast(beta, "float32")
    return ops.cast(y, dtype)


@keras.saving.register_keras_serializable(package="convrnn_tf")
class JointLayerNorm(keras.layers.Layer):
    """`joint_layer_norm` with learned per-channel ``gamma`` and ``beta`` (see the module doc).

    ``gamma_init`` / ``beta_init`` are the original's ``norm_gain`` / ``norm_shift``. The layer
    works on inputs of any rank >= 2 with a known last axis.
    """

    def __init__(self, gamma_init=1.0, beta_init=0.0, epsilon=EPSILON, **kwargs):
        numbers = (("gamma_init", gamma_init), ("beta_init", beta_init), ("epsilon", epsilon))
        for key, value in numbers:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"JointLayerNorm: {key} must be a number, got {value!r}")
        if epsilon < 0:
            raise ValueError(f"JointLayerNorm: epsilon must be >= 0, got {epsilon!r}")
        super().__init__(**kwargs)
        self.gamma_init = float(gamma_init)
        self.beta_init = float(beta_init)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"JointLayerNorm {self.name!r}: needs an input of rank >= 2 with a known channel "
                f"axis, got shape {tuple(input_shape)}"
            )
        channels = int(input_shape[-1])
        self.gamma = self.add_weight(
            name="gamma",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.gamma_init),
            autocast=False,
        )
        self.beta = self.add_weight(
            name="beta",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.beta_init),
            autocast=False,
        )
        self.built = True

    def call(self, inputs):
        return joint_layer_norm(inputs, self.gamma, self.beta, self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(gamma_init=self.gamma_init, beta_init=self.beta_init, epsilon=self.epsilon)
        return config
