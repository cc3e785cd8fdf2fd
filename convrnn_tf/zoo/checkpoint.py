"""Import the original zoo's TF1 checkpoints (``model.ckpt.index`` / ``.data-*``) by variable name.

    from convrnn_tf import zoo
    model = zoo.build("rgc_intermediate")
    report = zoo.load_original_checkpoint(model, "ckpts/rgc_intermediate/model.ckpt")
    print(report)                                   # loaded / missing / unexpected / mismatched
    zoo.original_variable_names(model)              # {"tnn_model/conv1/pre_0/weights_basenet": var, ...}

Names follow the original code's variable scopes (doc section 8.4, Appendix A), relative to
``tnn_model/<node>/``:

* pre/post ops: ``pre_<i>/weights_basenet`` (the kernel of a ``component_conv``, i.e. a conv with
  an ``input_name``), ``pre_<i>/weights`` (``model_tool.conv``/``fc``), ``pre_<i>/bias``, the same
  under ``post_<i>/``, and ``post_<i>/residual_add_weights``; ``<i>`` is the op's index in the list;
* memories: ``memory_decay`` (time decay, also the frozen one of every non-recurrent layer),
  ``ConvLSTMCell/...`` (peepholes under ``peepholes/``), ``ConvGRUCell/...``, ``ConvUGRNNCell/...``,
  ``ConvIntersectionRNNCell/...``, ``ConvNormBasicCell/...``, and the RGC's own
  ``original_variable_map()`` (``ReciprocalGateCell/...``);
* decoder (no node): ``normalize/softmax_beta``, ``probs/softmax_beta``, ``alpha/softmax_beta``,
  ``decoder_threshold``, ``decoder_alpha``.

Kernels keep their layout: TF ``[kh, kw, in, out]`` is the Keras layout, and fused gate kernels
keep their column order (GRU r|u, LSTM i|j|f|o, UGRNN g|c, IntersectionRNN gh|h|gy|y) and input
row order (x then h), because the cells here use the same fused convs. Checkpoint entries ending
in ``/Momentum``, ``global_step`` and the ``probs/``/``alpha/`` betas the model does not use are
ignored. The names are derived from the published code, not read from the real ``.index`` files;
see ``docs/checkpoints.md``.
"""

from __future__ import annotations

import dataclasses
import glob
import os

PREFIX = "tnn_model"
_CELL_SCOPES = {  # cell class name -> (original scope, {Keras path below the cell: original})
    "ConvLSTM": ("ConvLSTMCell", {f"w_{g}_diag": f"peepholes/w_{g}_diag" for g in "fio"}),
    "ConvGRU": ("ConvGRUCell", {"r_pre/gamma": "gates/r_pre/gamma", "r_pre/beta": "gates/r_pre/beta",
                                "u_pre/gamma": "gates/u_pre/gamma", "u_pre/beta": "gates/u_pre/beta",
                                "c_pre/gamma": "candidates/c_pre/gamma", "c_pre/beta": "candidates/c_pre/beta"}),
    "ConvUGRNN": ("ConvUGRNNCell", {}),
    "ConvIntersectionRNN": ("ConvIntersectionRNNCell", {}),
    "ConvSimpleRNN": ("ConvNormBasicCell", {}),
}
_DECODER_NAMES = {"softmax_beta": "normalize/softmax_beta", "probs_softmax_beta": "probs/softmax_beta",
                  "alpha_softmax_beta": "alpha/softmax_beta", "decoder_threshold": "decoder_threshold",
                  "decoder_alpha": "decoder_alpha"}
_UNUSED_BETAS = ("probs/softmax_beta", "alpha/softmax_beta")
_LIST = 8  # names listed per category in an error message


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not match the model; ``report`` has every name."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


@dataclasses.dataclass
class CheckpointReport:
    """What `load_original_checkpoint` found. Names are the checkpoint's (original) names.

    ``loaded``: assigned; ``missing``: the model needs them, the checkpoint lacks them;
    ``unexpected``: in the checkpoint, unknown to the model; ``mismatched``: ``(name, reason)``
    for wrong shapes/dtypes/values; ``ignored``: optimizer slots, ``global_step``, unused betas;
    ``keras_paths``: original name -> Keras variable path for every name the model knows.
    """

    path: str
    loaded: list = dataclasses.field(default_factory=list)
    missing: list = dataclasses.field(default_factory=list)
    unexpected: list = dataclasses.field(default_factory=list)
    mismatched: list = dataclasses.field(default_factory=list)
    ignored: list = dataclasses.field(default_factory=list)
    keras_paths: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every model variable was found, with the right shape, and nothing was left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self) -> str:
        """The missing/unexpected/mismatched names, a few per kind (all are in the fields)."""
        def few(items):
            more = f", ... and {len(items) - _LIST} more" if len(items) > _LIST else ""
            return ", ".join(items[:_LIST]) + more

        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing from the checkpoint: {few(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (unknown to the model): {few(self.unexpected)}")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} mismatched: {few([f'{n} ({why})' for n, why in self.mismatched])}")
        return "; ".join(parts)

    def __str__(self):
        head = (f"{self.path}: loaded {len(self.loaded)} variables, {len(self.missing)} missing, "
                f"{len(self.unexpected)} unexpected, {len(self.mismatched)} mismatched, "
                f"{len(self.ignored)} ignored")
        return head + (f"\n  {self.problems()}" if not self.ok else "")


# --------------------------------------------------------------------------------------- names
def _below(var, layer):
    """``var``'s path below ``layer`` (e.g. ``gates/weights``)."""
    prefix = layer.path + "/"
    if not var.path.startswith(prefix):
        raise ValueError(f"variable {var.path} is not below layer {layer.path}")
    return var.path[len(prefix):]


def _op_names(kind, ops, specs):
    out = {}
    for i, (op, spec) in enumerate(zip(ops, specs)):
        scope = f"{kind}_{i}"
        for var in op.weights:
            leaf = _below(var, op)
            if spec.op in ("conv", "fc") and leaf == "kernel":
                component = spec.op == "conv" and spec.kwargs.get("input_name") is not None
                out[f"{scope}/weights_basenet" if component else f"{scope}/weights"] = var
            elif spec.op in ("conv", "fc") and leaf == "bias":
                out[f"{scope}/bias"] = var
            elif spec.op == "residual_add" and leaf == "residual_add_weights":
                out[f"{scope}/residual_add_weights"] = var
            else:
                raise ValueError(f"no original name is known for weight {var.path} of a {spec.op!r} op")
    return out


def _cell_names(node):
    cell = node.cell
    kind = type(cell).__name__
    if hasattr(cell, "original_variable_map"):
        return dict(cell.original_variable_map())
    if kind in ("TimeDecay", "PassThrough"):
        return {"memory_decay": var for var in cell.weights}
    if kind not in _CELL_SCOPES:
        raise ValueError(f"node {node.name!r}: no original variable names are known for cell {kind}")
    scope, renames = _CELL_SCOPES[kind]
    return {f"{scope}/{renames.get(_below(v, cell), _below(v, cell))}": v for v in cell.weights}


def _node_names(node):
    if len(node.shapes.inputs) > 1 and not node.cell.takes_feedback and any(
            op.op == "conv" and op.kwargs.get("input_name") for op in node.node.pre_memory):
        # component_conv would split its kernel into weights_basenet / weights_<input> slices.
        raise ValueError(f"node {node.name!r}: a component conv over {len(node.shapes.inputs)} concatenated "
                         "inputs has per-input kernel slices in the original; not supported")
    names = _op_names("pre", node.pre_ops, node.node.pre_memory)
    names.update(_cell_names(node))
    names.update(_op_names("post", node.post_ops, node.node.post_memory))
    return names


def original_variable_names(model, prefix=PREFIX) -> dict:
    """``{original checkpoint name: Keras variable}`` for every weight of a `ConvRNN` (built if needed).

    Raises a ValueError naming the weight when one has no known original name (a custom cell or
    a learned decoder the original zoo does not use).
    """
    if not model.built:
        model.build()
    out = {}
    for name in model.spec.nodes:
        for rel, var in _node_names(model.node(name)).items():
            out[f"{prefix}/{name}/{rel}"] = var
    for var in model.decoder.weights:
        leaf = var.path.rsplit("/", 1)[-1]
        if leaf not in _DECODER_NAMES:
            raise ValueError(f"no original name is known for decoder weight {var.path}")
        out[f"{prefix}/{_DECODER_NAMES[leaf]}"] = var
    covered = {id(v) for v in out.values()}
    left = [v.path for v in model.weights if id(v) not in covered]
    if left or len(covered) != len(out):
        raise ValueError(f"original names do not cover the model's weights one to one; left over: {left}")
    return out


# -------------------------------------------------------------------------------------- reading
def checkpoint_prefix(path) -> str:
    """The TF checkpoint prefix for ``path``: a prefix, its ``.index``/``.data-*`` file, or a folder
    holding one checkpoint (a ``checkpoint`` state file, or a single ``*.index``, as the original
    ``ckpts/<model>/`` folders). Raises `CheckpointError` naming ``path`` otherwise."""
    path = os.fspath(path)
    for suffix in (".index", ".meta"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    if ".data-" in os.path.basename(path):
        path = path[: path.rindex(".data-")]
    if os.path.isdir(path):
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        found = sorted(glob.glob(os.path.join(glob.escape(path), "*.index")))
        if len(found) != 1:
            what = "no *.index file" if not found else f"{len(found)} checkpoints ({', '.join(found)})"
            raise CheckpointError(f"{path}: folder holds {what}; pass the checkpoint prefix, e.g. .../model.ckpt")
        return found[0][: -len(".index")]
    if not os.path.exists(path + ".index"):
        why = "is not a TF checkpoint" if os.path.exists(path) else "does not exist"
        raise CheckpointError(f"{path}: {why} (expected {path}.index and {path}.data-00000-of-00001)")
    return path


def open_checkpoint(path):
    """``(reader, prefix)`` for a TF checkpoint (see `checkpoint_prefix`); errors name the path."""
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as err:
        msg = getattr(err, "message", str(err)).strip().splitlines()[0]
        raise CheckpointError(f"{prefix}: cannot read as a TF checkpoint: {msg}") from None
    return reader, prefix


# -------------------------------------------------------------------------------------- loading
def _check_value(var, array):
    """A reason when ``array`` cannot go into ``var``, else None."""
    import numpy as np

    if tuple(array.shape) != tuple(var.shape):
        return f"checkpoint shape {list(array.shape)}, model {var.path} has {list(var.shape)}"
    if not np.issubdtype(array.dtype, np.floating) and str(array.dtype) != "bfloat16":
        return f"checkpoint dtype {array.dtype}, expected a float"
    return None


def _frozen_zero_decays(model):
    """Keras variables of pass-through decays (frozen at 0, so the model never reads them)."""
    out = set()
    for name in model.spec.nodes:
        cell = model.node(name).cell
        if type(cell).__name__ == "TimeDecay" and not cell.depends_on_state:
            out.update(id(v) for v in cell.weights)
    return out


def load_original_checkpoint(model, path, allow_partial=False, prefix=PREFIX) -> CheckpointReport:
    """Assign an original zoo checkpoint to ``model`` (a `ConvRNN`, built if needed) by name.

    Every model variable is looked up under its original name (`original_variable_names`). Unless
    ``allow_partial``, any missing, unexpected or mismatched name raises `CheckpointError` (its
    message and ``.report`` list the names) and nothing is assigned; with ``allow_partial`` the
    matching variables are assigned and the rest is only reported. A frozen pass-through
    ``memory_decay`` must be 0 in the checkpoint (the model does not read it). Returns the
    `CheckpointReport`. Unreadable paths raise `CheckpointError` naming the path.
    """
    import numpy as np

    reader, ckpt = open_checkpoint(path)
    names = original_variable_names(model, prefix)
    stored = reader.get_variable_to_shape_map()
    report = CheckpointReport(path=ckpt, keras_paths={n: v.path for n, v in names.items()})
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in stored:
        raise CheckpointError(f"{ckpt}: an object-based (TF2 / convrnn_tf) checkpoint, not an original "
                              "TF1 one; restore it with zoo.restore_checkpoint or tf.train.Checkpoint")
    frozen = _frozen_zero_decays(model)
    values = {}
    for name in sorted(stored):
        if name in names:
            continue
        if name == "global_step" or name.endswith("/Momentum") or name in (f"{prefix}/{b}" for b in _UNUSED_BETAS):
            report.ignored.append(name)
        else:
            report.unexpected.append(name)
    for name, var in names.items():
        if name not in stored:
            report.missing.append(name)
            continue
        array = np.asarray(reader.get_tensor(name))
        why = _check_value(var, array)
        if why is None and id(var) in frozen and np.any(array != 0):
            why = (f"value {array.ravel().tolist()} but {var.path} is a frozen zero decay (the model "
                   "treats the layer as memoryless)")
        if why:
            report.mismatched.append((name, why))
        else:
            values[name] = array
    if not report.ok and not allow_partial:
        raise CheckpointError(
            f"{ckpt}: does not match model {model.name!r}: {report.problems()}. Nothing was assigned; "
            f"pass allow_partial=True to load the {len(values)} matching variables.", report)
    for name, array in values.items():
        names[name].assign(array.astype(names[name].dtype))
        report.loaded.append(name)
    return report


def _restore_object_based(model, reader, ckpt, allow_partial):
    """A ``tf.train.Checkpoint``: model variables under ``model/``, or (``bin/train`` checkpoints
    written before ConvRNN tracked its nodes) only as the optimizer's ``_trainable_variables`` list,
    in ``model.trainable_variables`` order; non-trainable variables then keep their configured values."""
    import tensorflow as tf

    stored = reader.get_variable_to_shape_map()
    tail = "/.ATTRIBUTES/VARIABLE_VALUE"
    if any(k.startswith("model/") and k.endswith(tail) for k in stored):
        try:
            status = tf.train.Checkpoint(model=model).read(ckpt).expect_partial()
            if not allow_partial:
                status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            msg = getattr(err, "message", str(err)).strip().splitlines()[0][:500]
            raise CheckpointError(f"{ckpt}: does not match model {model.name!r}: {msg}") from None
        return f"convrnn_tf checkpoint {ckpt}"
    keys = {k for k in stored if k.startswith("optimizer/_trainable_variables/") and k.endswith(tail)}
    trainable = model.trainable_variables
    if not keys:
        raise CheckpointError(f"{ckpt}: an object-based checkpoint without model variables "
                              f"(holds {', '.join(sorted(stored)[:6])}, ...)")
    if len(keys) != len(trainable):
        raise CheckpointError(f"{ckpt}: does not match model {model.name!r}: it holds {len(keys)} trainable "
                              f"variables, the model has {len(trainable)}")
    values = []
    for i, var in enumerate(trainable):
        value = reader.get_tensor(f"optimizer/_trainable_variables/{i}{tail}")
        if tuple(value.shape) != tuple(var.shape):
            raise CheckpointError(f"{ckpt}: does not match model {model.name!r}: trainable variable {i} has "
                                  f"shape {list(value.shape)}, model {var.path} has {list(var.shape)}")
        values.append(value)
    for var, value in zip(trainable, values):
        var.assign(value.astype(var.dtype))
    return f"convrnn_tf checkpoint {ckpt} ({len(values)} trainable variables)"


def restore_checkpoint(model, path, allow_partial=False):
    """Load any checkpoint into ``model``: an original TF1 one (`load_original_checkpoint`), a
    ``tf.train.Checkpoint`` written by ``bin/train`` (a prefix, its ``checkpoints`` folder or the
    model_dir), or a Keras ``.weights.h5`` file. Returns a one-line description; errors name the path."""
    path = os.fspath(path)
    if not model.built:
        model.build()
    if path.endswith(".h5"):
        if not os.path.isfile(path):
            raise CheckpointError(f"{path}: does not exist")
        try:
            model.load_weights(path)
        except (ValueError, OSError, KeyError) as err:
            raise CheckpointError(f"{path}: cannot load Keras weights: {str(err).splitlines()[0]}") from None
        return f"Keras weights {path}"
    if os.path.isdir(os.path.join(path, "checkpoints")):
        path = os.path.join(path, "checkpoints")
    reader, ckpt = open_checkpoint(path)
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in reader.get_variable_to_shape_map():
        return _restore_object_based(model, reader, ckpt, allow_partial)
    return str(load_original_checkpoint(model, ckpt, allow_partial=allow_partial)).splitlines()[0]
