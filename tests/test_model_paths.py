"""The model paths of the analyses: features of a model feed neural fitting and decoding."""

import numpy as np

from convrnn_tf.analysis import decode_over_time
from convrnn_tf.analysis.run import model_responses
from convrnn_tf.cli.extract_features import write_netcdf, write_npz
from convrnn_tf.features import extract
from convrnn_tf.graph import builders
from convrnn_tf.model import ConvRNN
from convrnn_tf.neural.pipeline import read_features


def tiny_model():
    return ConvRNN(builders.chain(3, input_shape=(16, 16, 3), base_depth=4, classes=8), times=4)


def test_extracted_features_read_back_from_npz_and_netcdf(tmp_path):
    model = tiny_model()
    images = np.random.default_rng(0).integers(0, 255, (6, 16, 16, 3), dtype=np.uint8)
    ids = [f"im{i}" for i in range(6)]
    feats = extract(model, images, layers=["conv2", "readout"], batch_size=4, ids=ids)
    steps = np.arange(4)
    for path, write in ((tmp_path / "f.npz", write_npz), (tmp_path / "f.nc", write_netcdf)):
        write(str(path), feats, ids, steps)
        layers, got_ids, step0 = read_features(path)
        assert list(got_ids) == ids and step0 == 0
        for name in ("conv2", "readout"):
            np.testing.assert_allclose(np.asarray(layers[name]).reshape(6, 4, -1),
                                       np.asarray(feats[name]).reshape(6, 4, -1), rtol=1e-6)


def test_model_responses_feed_decoding_over_time():
    model = tiny_model()
    sources = model_responses(model, stimuli="embedded", layers=["conv2"], max_features=50,
                              embedded_kwargs={"image_size": 16, "images_per_object": 1})
    (src,) = sources
    x = src.responses
    assert x.shape[1:] == (50, 4) and src.kind == "model"  # [stimuli, features, time steps]
    np.testing.assert_array_equal(src.times, np.arange(4))
    labels = np.asarray(src.table["category_name"])
    result = decode_over_time(x, labels, src.times * 10.0, n_splits=2, shuffle_control=False)
    acc = np.asarray(result.accuracy)
    assert acc.shape == (4,) and np.all((acc >= 0) & (acc <= 1))
    assert acc[0] == acc.min()  # step 0 sees no image (bias only): nothing to decode yet
