"""The five convolutional cells side by side, for the shared tests (`test_conv_cells.py`) and the
per-cell ones: how to make each at the test size, its NumPy reference step (`cell_reference`, written
from the spec, reading the weights by their original names) and its configs and bad configs."""

import dataclasses

import numpy as np
import pytest

from convrnn_tf.cells.conv_gru import ConvGRU
from convrnn_tf.cells.conv_lstm import ConvLSTM
from convrnn_tf.cells.intersection_rnn import ConvIntersectionRNN
from convrnn_tf.cells.simple_rnn import ConvSimpleRNN
from convrnn_tf.cells.ugrnn import ConvUGRNN
from tests.cells import cell_reference as ref

B, H, W, C = 2, 6, 6, 4


def weight_shapes(cell):
    """``{weight path below the cell: shape}``, e.g. ``{"weights": (3, 3, 8, 16), ...}``: the
    original's variable names relative to ``tnn_model/<node>/<CellScope>/``."""
    return {v.path.split("/", 1)[1]: tuple(v.shape) for v in cell.weights}


def assert_l2_losses(cell, scaled):
    """``cell.losses`` are exactly ``scale * sum(v**2)`` for each ``(scale, variables)`` pair (the
    original's TF1 ``l2_regularizer(wd)`` has ``scale = wd / 2``)."""
    want = sorted(scale * float(np.sum(np.square(np.asarray(v)))) for scale, vs in scaled for v in vs)
    np.testing.assert_allclose(sorted(float(loss) for loss in cell.losses), want, rtol=1e-5)


def _layer_norms(wts, names):
    return {n: (wts[f"{n}/gamma"], wts[f"{n}/beta"]) for n in names}


def gru_step(cell):
    wts = ref.weights_by_name(cell)
    gates = (wts["gates/weights"], wts["gates/bias"])
    candidates = (wts["candidates/weights"], wts["candidates/bias"])
    ln = _layer_norms(wts, ("r_pre", "u_pre", "c_pre")) if cell.layer_norm else None
    return lambda x, h: ref.gru_step(x, h, gates, candidates, cell.forget_bias, ln)


def lstm_step(cell):
    wts = ref.weights_by_name(cell)
    peep = {g: wts[f"w_{g}_diag"] for g in "fio"} if cell.use_peepholes else None
    names = ("input", "transform", "forget", "output", "state")
    ln = _layer_norms(wts, names) if cell.layer_norm else None
    return lambda x, c, h: ref.lstm_step(x, c, h, wts, cell.forget_bias, peep, ln)


def ugrnn_step(cell):
    wts = ref.weights_by_name(cell)
    return lambda x, h: ref.ugrnn_step(x, h, wts["weights"], wts["bias"], cell.forget_bias)


def intersection_step(cell):
    wts = ref.weights_by_name(cell)
    names = ("gh_act", "h_act", "gy_act", "y_act")
    ln = _layer_norms(wts, names) if cell.layer_norm else None
    return lambda x, h: ref.intersection_step(x, h, wts["weights"], wts["bias"], cell.forget_bias, ln)


def simple_rnn_step(cell):
    wts = ref.weights_by_name(cell)
    ln = (wts["layer_norm/gamma"], wts["layer_norm/beta"]) if cell.layer_norm else None
    i_conv, s_conv = (wts["i/weights"], wts["i/bias"]), (wts["s/weights"], wts["s/bias"])
    return lambda x, h: ref.simple_rnn_step(x, h, i_conv, s_conv, ln)


@dataclasses.dataclass(frozen=True)
class Case:
    """One cell under test."""

    name: str  # registry name
    cls: type
    in_depth: int  # input channels of the test input
    seed: int
    reference: object  # cell -> NumPy step(x, *states) -> (y, states)
    output_state: object  # index of the state the output equals; None: output and state differ
    configs: dict  # id -> kwargs compared against the reference
    bad_configs: tuple  # (kwargs, the key the error must name)
    contract: dict  # kwargs of the config round-trip and gradient checks
    mixed: dict  # kwargs of the mixed_bfloat16 check

    @property
    def input_shape(self):
        return (None, H, W, self.in_depth)

    def make(self, **kw):
        """The cell at the test size: shape [H, W], 3x3 filters, C output channels."""
        kw.setdefault("shape", [H, W])
        kw.setdefault("filter_size", [3, 3])
        kw.setdefault("out_depth", C)
        return self.cls(**kw)

    def __str__(self):
        return self.name


CASES = {
    case.name: case
    for case in (
        Case(
            "gru", ConvGRU, 3, 11, gru_step, 0,
            configs={
                "default": {},
                "forget_bias_0": {"forget_bias": 0.0},
                "forget_bias_2": {"forget_bias": 2.0},
                "layer_norm": {"layer_norm": True, "norm_gain": 0.5, "norm_shift": 0.1},
                "2x2": {"filter_size": 2},
                "5x3": {"filter_size": [5, 3]},
            },
            bad_configs=(
                ({"activation": "nope"}, "activation"),
                ({"out_depth": -1}, "out_depth"),
                ({"filter_size": 1.5}, "filter_size"),
                ({"filter_size": True}, "filter_size"),
                ({"weight_decay": -1.0}, "weight_decay"),
                ({"layer_norm": None}, "layer_norm"),
                ({"norm_gain": "1"}, "norm_gain"),
                ({"bias_initializer": "bogus"}, "bias_initializer"),
            ),
            contract={"layer_norm": True, "forget_bias": 0.3, "weight_decay": 1e-4,
                      "activation": "relu", "kernel_initializer": "variance_scaling",
                      "kernel_initializer_kwargs": {"scale": 2.0}},
            mixed={"layer_norm": True},
        ),
        Case(
            "lstm", ConvLSTM, 3, 1, lstm_step, 1,
            configs={
                "plain": {},
                "forget_bias": {"forget_bias": 1.356},
                "peepholes": {"use_peepholes": True},
                "layer_norm": {"layer_norm": True, "forget_bias": 0.7},
                "peep_ln_2x2": {"use_peepholes": True, "layer_norm": True, "filter_size": 2.0},
                "4x4": {"filter_size": [4, 4], "forget_bias": 0.92},
                "3x2": {"filter_size": [3, 2], "use_peepholes": True},
            },
            bad_configs=(
                ({"activation": "tanhh"}, "activation"),
                ({"out_depth": -3}, "out_depth"),
                ({"out_depth": 0}, "out_depth"),
                ({"out_depth": None}, "out_depth"),
                ({"filter_size": 2.5}, "filter_size"),
                ({"filter_size": "3"}, "filter_size"),
                ({"filter_size": [3, 3, 3]}, "filter_size"),
                ({"filter_size": [0, 3]}, "filter_size"),
                ({"filter_size": None}, "filter_size"),
                ({"shape": [6]}, "shape"),
                ({"shape": [6, -1]}, "shape"),
                ({"weight_decay": -1e-4}, "weight_decay"),
                ({"weight_decay": "big"}, "weight_decay"),
                ({"forget_bias": True}, "forget_bias"),
                ({"use_peepholes": 1}, "use_peepholes"),
                ({"layer_norm": "yes"}, "layer_norm"),
                ({"kernel_initializer": "no_such_init"}, "kernel_initializer"),
                ({"bias_initializer": "constant", "bias_initializer_kwargs": {"valu": 1}},
                 "bias_initializer"),
                ({"kernel_initializer_kwargs": [1]}, "kernel_initializer_kwargs"),
            ),
            contract={"use_peepholes": True, "layer_norm": True, "forget_bias": 0.5,
                      "weight_decay": 1e-4, "kernel_initializer": "variance_scaling",
                      "kernel_initializer_kwargs": {"scale": 0.7}, "bias_initializer": "constant",
                      "bias_initializer_kwargs": {"value": 0.3}, "norm_gain": 1.5},
            mixed={"use_peepholes": True, "layer_norm": True},
        ),
        Case(
            "ugrnn", ConvUGRNN, 3, 21, ugrnn_step, 0,
            configs={
                "default": {},
                "fb0": {"forget_bias": 0.0},
                "fb-0.8_4x4": {"forget_bias": -0.8, "filter_size": 4},
                "1x3": {"filter_size": [1, 3]},
            },
            bad_configs=(
                ({"layer_norm": True}, "layer_norm"),
                ({"out_depth": 2.5}, "out_depth"),
                ({"filter_size": [3]}, "filter_size"),
                ({"forget_bias": "1"}, "forget_bias"),
                ({"kernel_initializer": "nope"}, "kernel_initializer"),
                ({"activation": "tanh"}, "activation"),  # not a UGRNN key
            ),
            contract={"forget_bias": 0.4, "weight_decay": 1e-4, "bias_initializer": "random_normal",
                      "bias_initializer_kwargs": {"stddev": 0.1}},
            mixed={},
        ),
        Case(
            "intersectionrnn", ConvIntersectionRNN, C, 31, intersection_step, None,
            configs={
                "default": {},
                "fb0": {"forget_bias": 0.0},
                "layer_norm": {"layer_norm": True, "forget_bias": 0.5},
                "2x2": {"filter_size": 2},
            },
            bad_configs=(
                ({"out_depth": "4"}, "out_depth"),
                ({"shape": "6x6"}, "shape"),
                ({"layer_norm": 0}, "layer_norm"),
                ({"weight_decay": float("nan")}, "weight_decay"),
            ),
            contract={"layer_norm": True, "weight_decay": 1e-4, "norm_shift": 0.2},
            mixed={},
        ),
        Case(
            "simplernn", ConvSimpleRNN, 5, 41, simple_rnn_step, 0,
            configs={"layer_norm": {}, "plain": {"layer_norm": False}, "2x2": {"filter_size": 2}},
            bad_configs=(
                ({"activation": "softmaxx"}, "activation"),
                ({"kernel_regularizer": -1.0}, "kernel_regularizer"),
                ({"bias_regularizer": "x"}, "bias_regularizer"),
                ({"out_depth": 0}, "out_depth"),
                ({"filter_size": [3, 3.5]}, "filter_size"),
            ),
            contract={"activation": "tanh", "kernel_regularizer": 1e-4, "bias_regularizer": 2e-4},
            mixed={},
        ),
    )
}


def params(field=None):
    """``pytest.param`` values over every case, or over every case and entry of its dict or
    tuple ``field`` (as ``(case, entry)``), with readable ids."""
    out = []
    for case in CASES.values():
        if field is None:
            out.append(pytest.param(case, id=str(case)))
            continue
        entries = getattr(case, field)
        if isinstance(entries, dict):
            items = entries.items()
        else:  # (kwargs, key) pairs
            items = ((f"{i}-{entry[1]}", entry) for i, entry in enumerate(entries))
        out.extend(pytest.param(case, entry, id=f"{case}-{key}") for key, entry in items)
    return out
