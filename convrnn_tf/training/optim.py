"""Learning-rate schedules and optimizers with the original's settings as defaults."""

from __future__ import annotations

import math

import keras
from keras import ops

# lstm_shallow's recorded settings (original doc section 9): SGD momentum 0.9, Nesterov,
# gradients clipped to +-0.3237..., learning rate 0.00758..., batch 64.
ORIGINAL_CLIP = 0.32374580586841245


@keras.saving.register_keras_serializable(package="convrnn_tf")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps``, then step decay or cosine decay.

    step:   ``lr = base * decay_rate ** (number of boundaries passed)``
    cosine: ``lr = base * (alpha + (1 - alpha) * (1 + cos(pi * p)) / 2)``, ``p`` the fraction of
            post-warm-up steps done.
    """

    def __init__(self, base_lr, total_steps, kind="cosine", warmup_steps=0, boundaries=(), decay_rate=0.1,
                 alpha=0.0):
        if kind not in ("constant", "step", "cosine"):
            raise ValueError(f"schedule kind must be constant, step or cosine, got {kind!r}")
        if base_lr <= 0 or total_steps <= 0 or warmup_steps < 0:
            raise ValueError(f"need base_lr > 0, total_steps > 0, warmup_steps >= 0; got "
                             f"{base_lr}, {total_steps}, {warmup_steps}")
        self.base_lr, self.total_steps, self.kind = float(base_lr), int(total_steps), kind
        self.warmup_steps, self.boundaries = int(warmup_steps), tuple(int(b) for b in boundaries)
        self.decay_rate, self.alpha = float(decay_rate), float(alpha)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        if self.kind == "constant":
            lr = ops.convert_to_tensor(self.base_lr, "float32")
        elif self.kind == "step":
            passed = sum(ops.cast(step >= b, "float32") for b in self.boundaries) if self.boundaries else 0.0
            lr = self.base_lr * ops.power(self.decay_rate, passed)
        else:
            span = max(self.total_steps - self.warmup_steps, 1)
            p = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            lr = self.base_lr * (self.alpha + (1 - self.alpha) * 0.5 * (1 + ops.cos(math.pi * p)))
        if self.warmup_steps:
            lr = ops.where(step < self.warmup_steps, self.base_lr * (step + 1) / self.warmup_steps, lr)
        return lr

    def get_config(self):
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "kind": self.kind,
                "warmup_steps": self.warmup_steps, "boundaries": list(self.boundaries),
                "decay_rate": self.decay_rate, "alpha": self.alpha}


def make_optimizer(learning_rate, name="sgd", momentum=0.9, nesterov=True, clipvalue=None, clipnorm=None,
                   mixed_float16=False):
    """An optimizer; SGD with Nesterov momentum 0.9 by default, as the original.

    Weight decay is not here: it is the L2 regularisation the layers carry (``wd * sum(w^2) / 2``).
    Under ``mixed_float16`` the optimizer is wrapped in a `LossScaleOptimizer`.
    """
    kwargs = {"learning_rate": learning_rate, "clipvalue": clipvalue, "clipnorm": clipnorm}
    if name == "sgd":
        opt = keras.optimizers.SGD(momentum=momentum, nesterov=nesterov, **kwargs)
    elif name == "adam":
        opt = keras.optimizers.Adam(**kwargs)
    elif name == "adamw":
        opt = keras.optimizers.AdamW(**kwargs)
    elif name == "rmsprop":
        opt = keras.optimizers.RMSprop(momentum=momentum, **kwargs)
    else:
        raise ValueError(f"optimizer must be one of sgd, adam, adamw, rmsprop; got {name!r}")
    return keras.optimizers.LossScaleOptimizer(opt) if mixed_float16 else opt
