"""One worker of the two-process MultiWorkerMirroredStrategy test (TF_CONFIG set by the test)."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from convrnn_tf.graph import builders  # noqa: E402
from convrnn_tf.model import ConvRNN  # noqa: E402
from convrnn_tf.training import get_strategy, make_optimizer, train  # noqa: E402


def dataset_fn(batch_size, training, input_context=None):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 8, 8, 3)).astype("float32")
    y = (x.mean((1, 2, 3)) > 0).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds.repeat().batch(batch_size, drop_remainder=True)


def main(model_dir):
    strategy = get_strategy("multi_worker_mirrored")
    summary = train(model_dir, lambda: ConvRNN(builders.chain(3, input_shape=(8, 8, 3), base_depth=2, classes=2),
                                               times=4),
                    dataset_fn, strategy=strategy, train_steps=3, global_batch_size=8,
                    optimizer_fn=lambda n: make_optimizer(0.01), checkpoint_every=3, verbose=False, summaries=False)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    print(f"worker {task} replicas {strategy.num_replicas_in_sync} loss {summary['loss']:.6f}")


if __name__ == "__main__":
    main(sys.argv[1])
