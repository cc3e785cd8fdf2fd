"""What the benchmarks share: one line describing the machine they ran on."""

import os
import platform


def cpu_model() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return cpu


def hardware() -> str:
    """CPU model, usable cores, GPUs and the TF/Keras versions."""
    import keras
    import tensorflow as tf

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return (f"{cpu_model()}, {cores} usable cores ({os.cpu_count()} CPUs), GPUs: {gpus or 'none'}, "
            f"TF {tf.__version__}, Keras {keras.__version__}")
