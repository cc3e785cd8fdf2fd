"""Build a model from a graph spec, run it once on random images, and describe it.

    convrnn-describe --spec=timedecay_shallow --presentation=default
    convrnn-describe --spec=path/to/spec.json --times=8 --outputs=conv3,imnetds
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("spec", "timedecay_shallow", "A zoo spec name or a graph-spec JSON file.")
flags.DEFINE_string("cell", None, "Cell of an original-format spec's recurrent layers (default: file prefix).")
flags.DEFINE_integer("times", None, "Time steps (default: the presentation's or the spec's).")
flags.DEFINE_string("presentation", "default", "constant | movie | default | neural.")
flags.DEFINE_integer("image_off", None, "First blank step of a movie.")
flags.DEFINE_string("decoder", "last", "Temporal decoder name.")
flags.DEFINE_integer("batch_size", 2, "Images in the random batch.")
flags.DEFINE_integer("seed", 0, "Random seed for weights and images.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import keras
    import numpy as np

    from convrnn_tf import zoo
    from convrnn_tf.graph import GraphSpec, SpecError
    from convrnn_tf.model import ConvRNN
    from convrnn_tf.model.summary import describe

    keras.utils.set_random_seed(FLAGS.seed)
    try:
        if os.path.exists(FLAGS.spec) or FLAGS.spec.endswith(".json"):
            spec = GraphSpec.from_json(FLAGS.spec, cell=FLAGS.cell)
        else:
            spec = zoo.load_spec(FLAGS.spec, cell=FLAGS.cell)
        model = ConvRNN(spec, times=FLAGS.times, presentation=FLAGS.presentation,
                        image_off=FLAGS.image_off, decoder=FLAGS.decoder)
    except (SpecError, ValueError) as err:
        sys.exit(f"error: {err}")
    images = np.random.default_rng(FLAGS.seed).uniform(0, 1, (FLAGS.batch_size,) + spec.nodes[spec.inputs[0]].shape)
    seqs = model.unroll(images.astype("float32"), outputs="all")
    print(describe(model))
    for name, seq in seqs.items():
        assert tuple(seq.shape[2:]) == spec.shapes[name].output, name
    logits = model(images.astype("float32"))
    print(f"decoded logits: {tuple(logits.shape)}, finite: {bool(np.isfinite(np.asarray(logits)).all())}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
