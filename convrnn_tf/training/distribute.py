"""The one function that picks the `tf.distribute` strategy, and dtype-policy set-up."""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

_MIRRORED = {}  # devices -> strategy: one per process (see get_strategy)

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "tpu")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def get_strategy(name: str = "default", tpu: str | None = None, num_gpus: int | None = None):
    """A `tf.distribute.Strategy` by name.

    * ``default``: TF's default (no-op) strategy on the default device.
    * ``one_device``: the first GPU if there is one, else the CPU.
    * ``mirrored``: data-parallel over the local GPUs (``num_gpus`` of them; or the logical CPUs
      when there is no GPU, which is how the tests run it); one instance per device set and process.
    * ``multi_worker_mirrored``: synchronous over the workers described by ``TF_CONFIG``.
    * ``tpu``: ``TPUStrategy`` on the TPU at address ``tpu``. Experimental: upstream Keras
      supports TPUs only up to TF 2.19, so use TF <= 2.19 there; the model has static shapes
      (fixed ``times``, image size; use ``drop_remainder=True`` batches).
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        if num_gpus is not None:
            if num_gpus > len(devices):
                raise ValueError(f"num_gpus={num_gpus} but only {len(devices)} devices are visible: {devices}")
            devices = devices[:num_gpus]
        # Two MirroredStrategy objects in one process number their collectives alike, and TF then
        # mixes up their all-reduces ("Shape mismatch in the collective instance"): reuse one.
        key = tuple(devices)
        if key not in _MIRRORED:
            _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
        return _MIRRORED[key]
    if name == "multi_worker_mirrored":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("multi_worker_mirrored needs TF_CONFIG describing the cluster and this worker")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as err:
            raise ValueError(f"TF_CONFIG is not valid JSON: {err}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    if not tpu:
        raise ValueError("the tpu strategy needs --tpu (a TPU name or grpc:// address, or 'local')")
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="" if tpu == "local" else tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def set_precision(policy: str = "float32"):
    """Set Keras's global dtype policy (variables stay float32 under the mixed policies)."""
    if policy not in POLICIES:
        raise ValueError(f"mixed_precision must be one of {POLICIES}, got {policy!r}")
    keras.config.set_dtype_policy(policy)


def is_chief(strategy) -> bool:
    """Whether this worker writes checkpoints, summaries and configs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)
