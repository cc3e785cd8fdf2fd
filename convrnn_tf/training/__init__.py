"""Training at scale: strategy selection, optimizers and schedules, the resumable training loop."""

from convrnn_tf.training.distribute import get_strategy, set_precision
from convrnn_tf.training.optim import WarmupSchedule, make_optimizer
from convrnn_tf.training.trainer import TrainingError, evaluate, train

__all__ = ["TrainingError", "WarmupSchedule", "evaluate", "get_strategy", "make_optimizer", "set_precision", "train"]
