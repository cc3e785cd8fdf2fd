"""Learned read-outs over the whole window (original section 6.3: mlp, conv1d).

Their weights depend on ``T'`` and ``K``, so both must be static. ``weight_decay`` is the
original's TF1 ``l2_regularizer`` scale (``wd * sum(w**2) / 2``); 0 adds no loss.
"""

from __future__ import annotations

import keras
from keras import ops

from convrnn_tf.cells.common import activation as get_activation
from convrnn_tf.cells.common import check_activation, weight_decay_regularizer
from convrnn_tf.decoders.base import TemporalDecoder
from convrnn_tf.decoders.registry import register


def _positive_ints(values, what, where):
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(
            f"{where}: {what} must be a list of positive integers, got {values!r}"
        ) from None
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{where}: {what} must be positive integers, got {list(values)!r}")
    return values


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("mlp")
class MLPDecoder(TemporalDecoder):
    """``out = fc_final(act(fc_n(... act(fc_1(flatten(L))))))``: [B, T'*K] -> hidden -> K.

    ``hidden`` lists the hidden layer sizes (the original's ``mlp_layers``, default [250]) with
    ``activation`` (elu); the final layer is linear with K units, as in the original only it
    carries ``weight_decay``.
    """

    needs_static_time = True
    needs_static_classes = True

    def __init__(self, hidden=(250,), activation="elu", weight_decay=0.0, **kwargs):
        hidden = _positive_ints(hidden, "hidden", "mlp decoder")
        check_activation(activation, "mlp decoder: activation")
        weight_decay_regularizer(weight_decay, "mlp decoder: weight_decay")
        super().__init__(**kwargs)
        self.hidden = hidden
        self.activation = activation
        self.weight_decay = weight_decay

    def build(self, input_shape):
        steps, classes = self.check_input_shape(input_shape)
        self.flat_size = steps * classes
        act = get_activation(self.activation)
        self.hidden_layers = [
            keras.layers.Dense(
                units, activation=act, name=f"fc{i + 1}", dtype=self.dtype_policy
            )
            for i, units in enumerate(self.hidden)
        ]
        self.final_layer = keras.layers.Dense(
            classes,
            name="fc_final",
            kernel_regularizer=weight_decay_regularizer(self.weight_decay),
            bias_regularizer=weight_decay_regularizer(self.weight_decay),
            dtype=self.dtype_policy,
        )
        size = self.flat_size
        for layer in self.hidden_layers:
            layer.build((None, size))
            size = layer.units
        self.final_layer.build((None, size))
        self.built = True

    def decode(self, logits):
        x = ops.reshape(logits, (-1, self.flat_size))
        for layer in self.hidden_layers:
            x = layer(x)
        return ops.cast(self.final_layer(x), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden=list(self.hidden), activation=self.activation, weight_decay=self.weight_decay
        )
        return config


@keras.saving.register_keras_serializable(package="convrnn_tf")
@register("conv1d")
class Conv1DDecoder(TemporalDecoder):
    """Per window w: ``pool_t(conv1d_w(L))`` (VALID over time, ``filters`` each); concat; dense K.

    ``windows`` defaults to 2..6 and ``filters`` (an int, or one per window) to 4, giving 20
    pooled values; ``pool`` is "max" or "avg" over time. ``conv_activation`` /
    ``activation`` are the conv and final activations (identity by default). ``T'`` must be at
    least the largest window.
    """

    needs_static_time = True
    needs_static_classes = True

    def __init__(
        self,
        windows=(2, 3, 4, 5, 6),
        filters=4,
        pool="max",
        conv_activation=None,
        activation=None,
        weight_decay=0.0,
        **kwargs,
    ):
        where = "conv1d decoder"
        windows = _positive_ints(windows, "windows", where)
        if not windows:
            raise ValueError(f"{where}: windows must not be empty")
        if len(set(windows)) != len(windows):
            raise ValueError(f"{where}: windows must be distinct, got {list(windows)!r}")
        if isinstance(filters, int) and not isinstance(filters, bool):
            filters = _positive_ints((filters,), "filters", where)[0]
        else:
            filters = _positive_ints(filters, "filters", where)
            if len(filters) != len(windows):
                raise ValueError(
                    f"{where}: give one filter count per window ({len(windows)}), "
                    f"got {list(filters)!r}"
                )
        if pool not in ("max", "avg"):
            raise ValueError(f"{where}: pool must be 'max' or 'avg', got {pool!r}")
        check_activation(conv_activation, f"{where}: conv_activation")
        check_activation(activation, f"{where}: activation")
        weight_decay_regularizer(weight_decay, f"{where}: weight_decay")
        super().__init__(**kwargs)
        self.windows = windows
        self.filters = filters
        self.pool = pool
        self.conv_activation = conv_activation
        self.activation = activation
        self.weight_decay = weight_decay

    def filters_per_window(self):
        if isinstance(self.filters, int):
            return (self.filters,) * len(self.windows)
        return self.filters

    def build(self, input_shape):
        steps, classes = self.check_input_shape(input_shape)
        if steps < max(self.windows):
            raise ValueError(
                f"conv1d decoder {self.name!r}: the window has {steps} time steps, fewer than the "
                f"largest convolution window {max(self.windows)} (windows {list(self.windows)}); "
                "use a longer decoder window or smaller windows"
            )
        conv_act = get_activation(self.conv_activation)
        self.convs = [
            keras.layers.Conv1D(
                n,
                w,
                padding="valid",
                activation=conv_act,
                kernel_regularizer=weight_decay_regularizer(self.weight_decay),
                bias_regularizer=weight_decay_regularizer(self.weight_decay),
                name=f"c_{w}",
                dtype=self.dtype_policy,
            )
            for w, n in zip(self.windows, self.filters_per_window())
        ]
        self.final_layer = keras.layers.Dense(
            classes,
            activation=get_activation(self.activation),
            kernel_regularizer=weight_decay_regularizer(self.weight_decay),
            bias_regularizer=weight_decay_regularizer(self.weight_decay),
            name="fc_final",
            dtype=self.dtype_policy,
        )
        for conv in self.convs:
            conv.build((None, steps, classes))
        self.final_layer.build((None, sum(self.filters_per_window())))
        self.built = True

    def decode(self, logits):
        reduce = ops.max if self.pool == "max" else ops.mean
        pooled = [reduce(conv(logits), axis=1) for conv in self.convs]
        features = pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)
        return ops.cast(self.final_layer(features), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            windows=list(self.windows),
            filters=self.filters if isinstance(self.filters, int) else list(self.filters),
            pool=self.pool,
            conv_activation=self.conv_activation,
            activation=self.activation,
            weight_decay=self.weight_decay,
        )
        return config
