"""Convolutional LSTM (original ``cells.py::ConvLSTMCell``, doc section 4.4)."""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.conv_utils import ConvCellBase, cell_arguments
from convrnn_tf.cells.registry import register


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("lstm")
class ConvLSTM(ConvCellBase):
    """Conv LSTM with one fused gate conv, optional spatial peepholes and joint layer norm.

    Per step, with ``act`` = ``activation`` (tanh) and ``k`` = ``filter_size``::

        [i, j, f, o] = split4(conv_k(concat([x, h]), weights) + bias)     # one fused conv
        if layer_norm: i, j, f, o = LN_input(i), LN_transform(j), LN_forget(f), LN_output(o)
        c' = c * sigmoid(f + forget_bias [+ w_f_diag * c]) + sigmoid(i [+ w_i_diag * c]) * act(j)
        if layer_norm: c' = LN_state(c')
        h' = act(c') * sigmoid(o [+ w_o_diag * c])       # NB: the OLD c, as the original does
        output = h'

    **States** are the tuple ``(c, h)``, each float32 ``[B, H, W, C]``. The original keeps one
    tensor ``concat([c, h], axis=-1)`` (``state_is_tuple=False``, c first); `to_original_state`
    and `from_original_state` convert between the two.

    **Weights** (original names relative to ``tnn_model/<node>/ConvLSTMCell/``):

    ========================== ============================== =====================================
    Keras weight path          original variable              shape
    ========================== ============================== =====================================
    ``<cell>/weights``         ``weights``                    ``[kh, kw, C_x + C, 4C]``, rows x|h,
                                                              columns i|j|f|o
    ``<cell>/bias``            ``bias``                       ``[4C]``
    ``<cell>/<g>/gamma|beta``  ``<g>/gamma|beta``             ``[C]``, g in input, transform,
                                                              forget, output, state (layer_norm)
    ``<cell>/w_f_diag`` etc.   ``peepholes/w_f_diag`` etc.    ``[H, W, C]`` (use_peepholes)
    ========================== ============================== =====================================

    Weight decay ``wd`` is ``L2(wd/2)`` on ``weights`` and ``bias`` only (not on layer-norm or
    peephole variables, as in the original). Initialisers: ``kernel_initializer`` (None: Glorot
    uniform) for the kernel **and** the peepholes (the original's ``peepholes`` variable scope
    uses it), ``bias_initializer`` (None: zeros); layer-norm gamma/beta start at ``norm_gain`` /
    ``norm_shift``.
    """

    num_states = 2

    def __init__(self, shape=None, filter_size=None, out_depth=None, weight_decay=0.0,
                 use_peepholes=False, forget_bias=1.0, activation="tanh", kernel_initializer=None,
                 kernel_initializer_kwargs=None, bias_initializer=None, bias_initializer_kwargs=None,
                 layer_norm=False, norm_gain=1.0, norm_shift=0.0, **kwargs):
        super().__init__(**cell_arguments(locals()))

    def _build_weights(self, spatial, in_depth):
        self._add_fused_conv(in_depth, 4 * self.out_depth)
        if self.layer_norm:
            self.ln_input, self.ln_transform, self.ln_forget, self.ln_output, self.ln_state = (
                self._layer_norms(("input", "transform", "forget", "output", "state"), spatial)
            )
        if self.use_peepholes:
            self.w_f_diag, self.w_i_diag, self.w_o_diag = (
                self.add_weight(
                    name=name,
                    shape=tuple(spatial) + (self.out_depth,),
                    initializer=self._make_kernel_init(),
                    autocast=False,
                )
                for name in ("w_f_diag", "w_i_diag", "w_o_diag")
            )

    def call(self, inputs, states, feedback=None, res_input=None, training=None):
        x, (c, h) = self._prepare_call(inputs, states, feedback)
        i, j, f, o = self._fused_gates(x, h, 4)
        if self.layer_norm:
            i, j = self.ln_input(i), self.ln_transform(j)
            f, o = self.ln_forget(f), self.ln_output(o)
        act = self._activation
        f = f + self.forget_bias
        if self.use_peepholes:
            peepholes = (self.w_f_diag, self.w_i_diag, self.w_o_diag)
            w_f, w_i, w_o = (ops.cast(v, "float32") for v in peepholes)
            f = f + w_f * c
            i = i + w_i * c
            o = o + w_o * c  # the old c (original behaviour)
        new_c = c * ops.sigmoid(f) + ops.sigmoid(i) * act(j)
        if self.layer_norm:
            new_c = self.ln_state(new_c)
        new_h = act(new_c) * ops.sigmoid(o)
        return ops.cast(new_h, self.compute_dtype), (new_c, new_h)

    @staticmethod
    def to_original_state(states):
        """``(c, h)`` -> the original's single state ``concat([c, h], axis=-1)``."""
        c, h = states
        return ops.concatenate([c, h], axis=-1)

    @staticmethod
    def from_original_state(state):
        """The original's ``concat([c, h], axis=-1)`` -> ``(c, h)``."""
        c, h = ops.split(state, 2, axis=-1)
        return (c, h)
