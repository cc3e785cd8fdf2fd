"""Extract a zoo model's features over time for a set of images (the original ``run_model.py``).

    extract_features --model=rgc_intermediate --images=stimuli/ --layers=conv9,conv10 \\
        --checkpoint=ckpts/rgc_intermediate/model.ckpt --output=features.nc
    extract_features --model=timedecay_shallow --images=images.npy --image_pres=constant --times=4 \\
        --output=features.npz

``--images``: a folder of images (recursive; ids are the relative paths), one image, an ``.npy``
(memory-mapped) / ``.npz`` array ``[N, H, W, 3]`` (ids are the indices, or an ``stimulus_id``
entry), or ``tfds:<name>/<split>`` for a dataset already prepared locally (``--tfds_data_dir``).
uint8 0-255 or float 0-1 RGB; ImageNet normalisation is done here; any size is resized by the
model's input harbor. Presentation as the original (doc section 7.2): ``default`` (the model's:
16/17 steps, image off at 12; t22/t30 models a constant image), ``neural`` (26 steps, image off
at 10) or ``constant`` (``--times`` required); ``--image_off`` with ``--times`` gives a movie.

Output ``.npz``: one array per layer ``[N, T, ...]`` plus ``stimulus_id`` and ``time_step``.
Output ``.nc`` (NetCDF-4 via h5netcdf; read with ``xarray.open_dataarray(path, group=layer)``):
one group per layer holding the variable ``<layer>`` with dims ``(presentation, neuroid,
time_bin)``, coordinates ``stimulus_id`` (presentation), ``neuroid_id`` (neuroid, ``<layer>.<i>``
over the C-order flattened H, W, C), ``time_bin`` (the model step), ``time_bin_start`` /
``time_bin_end`` (nominal 10 ms per step) and ``layer``. Batches are streamed to disk as they
come, so memory stays bounded. `convrnn_tf.neural.fit_neural` takes the time axis from a
``time_step`` dim: pass it ``da.rename(time_bin="time_step")``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Zoo model name, e.g. rgc_intermediate.")
flags.DEFINE_string("images", None, "Folder, image, .npy/.npz array, or tfds:<name>/<split>.")
flags.DEFINE_string("layers", "", "Comma-separated node names (or 'logits'); default the output node.")
flags.DEFINE_enum("image_pres", "default", ["default", "constant", "neural"], "Image presentation.")
flags.DEFINE_integer("times", None, "Time steps (constant: required; default/neural: only with --image_off).")
flags.DEFINE_integer("image_off", None, "First blank step (a movie; needs --times).")
flags.DEFINE_string("steps", "all", "Time steps to keep: 'all' or comma-separated ints.")
flags.DEFINE_string("checkpoint", None, "Original TF1 checkpoint, a bin/train model_dir or checkpoint, or .weights.h5.")
flags.DEFINE_bool("allow_partial", False, "Load a checkpoint that does not cover every variable.")
flags.DEFINE_integer("batch_size", 32, "Images per batch.")
flags.DEFINE_string("output", None, "Output file: .npz or .nc (NetCDF).")
flags.DEFINE_bool("overwrite", False, "Replace an existing output file.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data_dir for tfds: images.")
flags.DEFINE_bool("progress", True, "Show a progress bar on stderr.")
STEP_MS = 10.0  # the original's neural protocol: one step ~ 10 ms


def presentation(image_pres, times=None, image_off=None) -> dict:
    """`zoo.build` keyword arguments for the original's ``--image_pres/--times/--image_off`` rules."""
    if image_pres == "constant":
        if image_off is not None:
            raise ValueError("--image_off is meaningless with --image_pres=constant")
        if times is None:
            raise ValueError("--image_pres=constant needs --times")
        return {"presentation": "constant", "times": times}
    if image_pres not in ("default", "neural"):
        raise ValueError(f"--image_pres must be default, constant or neural, got {image_pres!r}")
    if image_off is not None:
        if times is None:
            raise ValueError("--image_off needs --times (the original's rule)")
        return {"presentation": "movie", "times": times, "image_off": image_off}
    if times is not None and image_pres == "default":
        raise ValueError("--image_pres=default fixes the steps; use --image_pres=constant or add --image_off")
    return {"presentation": image_pres, **({} if times is None else {"times": times})}


def write_npz(path, feats, ids, steps):
    """``{layer: [N, T, ...]}`` + ``stimulus_id`` + ``time_step`` (arrays written chunk by chunk)."""
    import numpy as np

    clash = {"stimulus_id", "time_step"} & set(feats)
    if clash:
        raise ValueError(f"layer name(s) {sorted(clash)} clash with the .npz metadata keys")
    np.savez(path, **feats, stimulus_id=np.asarray(ids, dtype=str), time_step=np.asarray(steps, np.int32))


def write_netcdf(path, feats, ids, steps, attrs=None, chunk_bytes=64 << 20):
    """One group per layer with ``<layer> (presentation, neuroid, time_bin)`` (see the module doc)."""
    import numpy as np

    try:
        import h5netcdf
        import h5py
    except ImportError:
        raise ValueError("writing NetCDF needs h5netcdf (pip install h5netcdf xarray); or use .npz") from None
    text = h5py.string_dtype()
    n, t = len(ids), len(steps)
    with h5netcdf.File(path, "w") as f:
        f.attrs.update({"layers": ",".join(feats), **(attrs or {})})
        for layer, data in feats.items():
            width = int(np.prod(data.shape[2:]))
            g = f.create_group(layer)
            g.dimensions = {"presentation": n, "neuroid": width, "time_bin": t}
            g.create_variable("stimulus_id", ("presentation",), dtype=text)[:] = np.asarray(ids, dtype=object)
            g.create_variable("neuroid_id", ("neuroid",), dtype=text)[:] = np.asarray(
                [f"{layer}.{i}" for i in range(width)], dtype=object)
            g.create_variable("time_bin", ("time_bin",), data=np.asarray(steps, np.int32))
            g.create_variable("time_bin_start", ("time_bin",), data=np.asarray(steps, np.float64) * STEP_MS)
            g.create_variable("time_bin_end", ("time_bin",), data=(np.asarray(steps, np.float64) + 1) * STEP_MS)
            g.create_variable("layer", (), dtype=text)[...] = layer
            rows = max(1, min(n, chunk_bytes // max(1, 4 * width * t)))
            var = g.create_variable(layer, ("presentation", "neuroid", "time_bin"), dtype="f4",
                                    chunks=(rows, width, t))
            var.attrs.update({"coordinates": "stimulus_id neuroid_id time_bin_start time_bin_end layer",
                              "feature_shape": list(data.shape[2:]), "step_ms": STEP_MS})
            for i in range(0, n, rows):
                block = np.asarray(data[i:i + rows], np.float32).reshape(-1, t, width)
                var[i:i + len(block)] = block.transpose(0, 2, 1)


def run_extraction(model_name, images, output, layers="", image_pres="default", times=None, image_off=None,
                   steps="all", checkpoint=None, allow_partial=False, batch_size=32, tfds_data_dir=None,
                   overwrite=False, progress=False, log=print):
    """The body of ``bin/extract_features``; returns ``{layer: shape}``. Errors are ValueErrors."""
    from convrnn_tf import features, zoo

    output = os.fspath(output)
    kind = os.path.splitext(output)[1].lower()
    if kind not in (".npz", ".nc"):
        raise ValueError(f"--output {output!r}: must end in .npz or .nc")
    if os.path.exists(output) and not overwrite:
        raise ValueError(f"--output {output!r} exists; pass --overwrite to replace it")
    model = zoo.build(zoo.check_name(model_name), **presentation(image_pres, times, image_off))
    layers = features.check_layers(model, layers)
    try:
        keep = None if steps in (None, "", "all") else [int(s) for s in str(steps).split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--steps {steps!r}: expected 'all' or comma-separated integers") from None
    size = tuple(model.spec.shapes[model.spec.inputs[0]].harbor[:2])
    source = features.open_images(images, size=size, tfds_data_dir=tfds_data_dir)
    model.build()
    if checkpoint:
        log(f"loaded {zoo.restore_checkpoint(model, checkpoint, allow_partial=allow_partial)}")
    work = tempfile.mkdtemp(prefix=".extract_", dir=os.path.dirname(os.path.abspath(output)))
    try:
        feats = features.extract(model, source, layers, batch_size, keep, out_dir=work, progress=progress)
        keep = list(range(model.times)) if keep is None else keep
        partial = output + ".partial"
        attrs = {"model": model.name, "presentation": str(model.presentation.to_dict()), "times": model.times,
                 "checkpoint": checkpoint or "none (random initialisation)"}
        if kind == ".npz":
            with open(partial, "wb") as f:
                write_npz(f, feats, feats.ids, keep)
        else:
            write_netcdf(partial, feats, feats.ids, keep, attrs)
        os.replace(partial, output)
        shapes = {k: tuple(v.shape) for k, v in feats.items()}
        del feats
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(output + ".partial"):
            os.remove(output + ".partial")
    log(f"wrote {output}: " + ", ".join(f"{k} {list(s)}" for k, s in shapes.items()))
    return shapes


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    missing = [f"--{k}" for k in ("model", "images", "output") if not getattr(FLAGS, k)]
    if missing:
        raise app.UsageError(f"required: {', '.join(missing)}")
    from convrnn_tf.zoo import CheckpointError

    try:
        run_extraction(FLAGS.model, FLAGS.images, FLAGS.output, FLAGS.layers, FLAGS.image_pres, FLAGS.times,
                       FLAGS.image_off, FLAGS.steps, FLAGS.checkpoint, FLAGS.allow_partial, FLAGS.batch_size,
                       FLAGS.tfds_data_dir, FLAGS.overwrite, FLAGS.progress)
    except (ValueError, CheckpointError) as err:
        sys.exit(f"error: {err}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
