"""Every shipped gin file parses and configures a model and an input pipeline, offline."""

import pathlib

import gin
import pytest

import convrnn_tf
from convrnn_tf import configurables
from convrnn_tf.cli import common
from convrnn_tf.data.pipelines import DatasetNotFoundError
from convrnn_tf.model import ConvRNN

GIN_DIR = pathlib.Path(convrnn_tf.__file__).parent / "gin"
EXPERIMENTS = sorted(p.name for p in GIN_DIR.glob("*.gin") if "run.model_fn" in p.read_text())


@pytest.fixture(autouse=True)
def _clean_gin():
    gin.clear_config()
    gin.add_config_file_search_path(common.gin_dir())
    yield
    gin.clear_config()


def test_gin_folder_is_shipped_and_linked():
    assert (pathlib.Path(__file__).parents[2] / "gin").resolve() == GIN_DIR.resolve()
    assert "quickstart.gin" in EXPERIMENTS and len(EXPERIMENTS) >= 23  # 20 zoo models, 2 baselines, quickstart


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_configures_model_and_data(name):
    gin.parse_config_file(str(GIN_DIR / name))
    model_fn = gin.query_parameter("run.model_fn")
    assert model_fn.configurable.name == "build_model"
    model = configurables.build_model()  # validates the spec and constructs every layer
    assert isinstance(model, ConvRNN)
    dataset_fn = configurables.dataset()
    if gin.query_parameter("dataset.name") == "imagenet2012":
        with pytest.raises(DatasetNotFoundError, match=r"not prepared .* nothing is downloaded.*prepare_tfds"):
            dataset_fn(2, training=True)
        assert gin.query_parameter("optimizer.nesterov") is True
        assert gin.query_parameter("run.batch_size") == 64
    else:
        gin.bind_parameter("dataset.images_per_object", 1)
        x, y = next(iter(configurables.dataset()(4, training=True)))
        size = gin.query_parameter("dataset.image_size")
        assert x.shape == (4, size, size, 3) and y.shape == (4,)
        assert model.spec.nodes[model.spec.inputs[0]].shape == (size, size, 3)


def test_feedforward_baseline_has_no_recurrence():
    gin.parse_config_file(str(GIN_DIR / "imagenet_feedforward_intermediate.gin"))
    model = configurables.build_model()
    assert not model.spec.feedback_edges
    assert all(not model.node(n).cell.depends_on_state for n in model.spec.nodes)
    assert model.times == 17
