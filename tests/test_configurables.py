"""gin bindings build real cells (`convrnn_tf.configurables`): parsed from text, checked against the
cells' NumPy references, saved in get_config, and bad names refused with the registry's message."""

import gin
import numpy as np
import pytest

import convrnn_tf.cells as cells
from convrnn_tf import configurables
from convrnn_tf.cells.conv_gru import ConvGRU
from convrnn_tf.cells.conv_lstm import ConvLSTM
from convrnn_tf.cells.reciprocal_gated import ReciprocalGatedCell
from tests.cells import cell_reference as ref
from tests.cells.conv_cell_cases import CASES


@gin.configurable("holder", module="tests.test_configurables")
def holder(cell=None, cells=()):
    """A stand-in for a binary's configurable that takes cells."""
    return cell, list(cells)


@pytest.fixture(autouse=True)
def _clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def _matches_reference(cell, case, in_depth, seed=0):
    """One step of ``cell`` (built here) equals the NumPy reference of its case."""
    rng = np.random.default_rng(seed)
    shape = (None,) + tuple(cell.shape) + (in_depth,)
    cell.build(shape)
    ref.randomize_weights(cell, rng)
    x = [rng.normal(size=(2,) + shape[1:]).astype("float32")]
    states = ref.random_states(cell, shape, 2, rng)
    got, got_states = ref.run_cell(cell, x, states)
    want, want_states = ref.run_reference(case.reference(cell), x, states)
    for a, b in zip(got + list(got_states), want + list(want_states), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_every_registered_cell_is_a_gin_configurable_under_convrnn_tf_cells():
    classes = {cells.get(name) for name in cells.names()}
    assert set(configurables.CONFIGURABLE_CELLS.values()) == classes
    for cls in classes:
        assert gin.get_configurable(f"convrnn_tf.cells.{cls.__name__}") is not None
        assert gin.get_configurable(cls.__name__) is not None
    assert gin.get_configurable("convrnn_tf.cells.make_cell") is not None


def test_make_cell_bindings_parse_and_build_the_cell():
    gin.parse_config(
        """
        make_cell.name = "gru"
        make_cell.shape = [6, 6]
        make_cell.filter_size = 3
        make_cell.out_depth = 8
        make_cell.forget_bias = 0.5
        make_cell.layer_norm = True
        """
    )
    cell = gin.get_configurable("make_cell")()
    assert type(cell) is ConvGRU
    assert (cell.out_depth, cell.filter_size, cell.forget_bias, cell.layer_norm) == (8, (3, 3), 0.5, True)
    _matches_reference(cell, CASES["gru"], in_depth=3)
    assert "make_cell.name = 'gru'" in gin.operative_config_str()


def test_class_references_and_scopes():
    gin.parse_config(
        """
        ConvGRU.shape = [5, 5]
        ConvGRU.filter_size = [3, 1]
        ConvGRU.out_depth = 8
        conv3/make_cell.name = "lstm"
        conv3/make_cell.shape = [5, 5]
        conv3/make_cell.filter_size = 2
        conv3/make_cell.out_depth = 4
        conv3/make_cell.use_peepholes = True
        conv4/make_cell.name = "ugrnn"
        conv4/make_cell.shape = [5, 5]
        conv4/make_cell.filter_size = 3
        conv4/make_cell.out_depth = 6
        holder.cell = @ConvGRU()
        holder.cells = [@conv3/make_cell(), @conv4/make_cell()]
        """
    )
    gru, (lstm, ugrnn) = holder()
    assert type(gru) is ConvGRU and gru.out_depth == 8 and gru.filter_size == (3, 1)
    assert type(lstm) is ConvLSTM and lstm.use_peepholes and lstm.out_depth == 4
    assert type(ugrnn) is cells.ConvUGRNN and ugrnn.out_depth == 6
    _matches_reference(gru, CASES["gru"], in_depth=2)
    _matches_reference(lstm, CASES["lstm"], in_depth=3)
    _matches_reference(ugrnn, CASES["ugrnn"], in_depth=3)
    # gin only acts through references: the classes and make_cell are unchanged for Python callers
    assert type(configurables.make_cell("lstm", filter_size=3, out_depth=2)) is ConvLSTM
    with pytest.raises(ValueError, match="ConvGRU: out_depth is required"):
        ConvGRU(filter_size=3)


def test_gin_arguments_are_saved_in_get_config():
    gin.parse_config(
        """
        ConvLSTM.filter_size = 3
        ConvLSTM.out_depth = 5
        ConvLSTM.forget_bias = 0.25
        ConvLSTM.kernel_initializer = "variance_scaling"
        ConvLSTM.kernel_initializer_kwargs = {"scale": 0.5}
        holder.cell = @ConvLSTM()
        """
    )
    cell, _ = holder()
    config = cell.get_config()
    assert (config["out_depth"], config["forget_bias"], config["filter_size"]) == (5, 0.25, [3, 3])
    assert config["kernel_initializer_kwargs"] == {"scale": 0.5}
    gin.clear_config()
    assert ConvLSTM.from_config(config).get_config() == config


def test_reciprocal_gated_cell_from_gin():
    gin.parse_config(
        """
        ReciprocalGatedCell.shape = [4, 4]
        ReciprocalGatedCell.out_depth = 4
        ReciprocalGatedCell.cell_depth = 3
        ReciprocalGatedCell.tau_filter_size = 3
        ReciprocalGatedCell.gate_filter_size = 3
        ReciprocalGatedCell.ff_filter_size = 3
        ReciprocalGatedCell.input_to_cell = True
        ReciprocalGatedCell.feedback_entry = "cell"
        holder.cell = @ReciprocalGatedCell()
        """
    )
    cell, _ = holder()
    assert type(cell) is ReciprocalGatedCell and cell.get_config()["feedback_entry"] == "cell"
    with pytest.raises(ValueError, match="feedback_shape needs cell_depth \\(3\\) channels, got 2"):
        cell.build((None, 4, 4, 4), (None, 4, 4, 2))
    cell.build((None, 4, 4, 4), (None, 4, 4, 3))
    assert [tuple(s) for s in cell.state_shapes((None, 4, 4, 4))] == [(4, 4, 3), (4, 4, 4)]


def test_unknown_cell_name_gives_the_registry_error_listing_valid_names():
    gin.parse_config('make_cell.name = "grux"\nmake_cell.out_depth = 8')
    valid = ", ".join(cells.names())
    with pytest.raises(ValueError, match=f"unknown cell 'grux'; valid cell names are: {valid}"):
        gin.get_configurable("make_cell")()
    with pytest.raises(ValueError, match=f"unknown cell 'grux'; valid cell names are: {valid}"):
        configurables.make_cell("grux")


def test_bad_cell_arguments_from_gin_name_the_culprit():
    gin.parse_config('make_cell.name = "lstm"\nmake_cell.filter_size = 3\nmake_cell.out_depth = -2')
    with pytest.raises(ValueError, match="ConvLSTM: out_depth must be an integer >= 1, got -2"):
        gin.get_configurable("make_cell")()
    gin.clear_config()
    gin.parse_config("ConvGRU.filter_size = 3\nConvGRU.out_depth = 2\nConvGRU.no_such_key = 1\n"
                     "holder.cell = @ConvGRU()")
    with pytest.raises(ValueError, match="ConvGRU.*no_such_key"):
        holder()
