"""Reader for the real V4 session of Cowley, Stan, Pillow & Smith (2023), session 210325.

Cowley et al. (2023) "Compact deep neural network models of visual cortex", bioRxiv; data from
github.com/cowleygroup/V4_compact_models (GPL-3.0). Cite the paper when you use the data. The data are
read in place from the folder (e.g. ``../shared/data/cowley2023-v4-session210325``), never copied.

Folder contents (per its README): ``images.zip`` with 640 JPEGs ``image0001.jpg`` ... (112 x 112 x 3) in
response-column order; ``responses_raw.npy`` (50 neurons, 640 images, 10 repeat slots) of spike counts in
one 100 ms window, with each image's 6-10 valid repeats first and NaN in unused slots;
``responses_repeat_averaged.npy`` (50, 640) = ``nanmean`` of the raw array over repeats. Monkey PE, V4.
The latency of the 100 ms window is not stated, so the time bin is labelled 0-100 ms by default.
No object or category labels are given; the images appear to come in 8 blocks of 80, so ``object_name``
and ``category_name`` are set to ``"block1"`` ... ``"block8"`` (an inference, flagged in ``attrs``).
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from convrnn_tf.neural.assembly import NeuralDataError, make_assembly, validate_assembly

CITATION = ("Cowley, B. R., Stan, P. L., Pillow, J. W., & Smith, M. A. (2023). Compact deep neural network "
            "models of visual cortex. bioRxiv. Data: github.com/cowleygroup/V4_compact_models (GPL-3.0).")
_FILES = ("images.zip", "responses_raw.npy", "responses_repeat_averaged.npy")


def _check(folder):
    folder = os.fspath(folder)
    for name in _FILES:
        if not os.path.isfile(os.path.join(folder, name)):
            raise FileNotFoundError(f"{folder}: missing {name} (expected the Cowley 2023 session folder)")
    return folder


def image_ids(folder):
    """Stimulus ids from the zip's JPEG file names, in file-name order (``image0001`` ...)."""
    folder = _check(folder)
    with zipfile.ZipFile(os.path.join(folder, "images.zip")) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith((".jpg", ".jpeg")))
    return np.array([os.path.splitext(os.path.basename(n))[0] for n in names])


def load_cowley2023(folder, averaged=False, time_bin=(0.0, 100.0)):
    """The session as an assembly (presentation x neuroid x time_bin, one 100 ms bin).

    ``averaged=False``: one presentation per valid trial (NaN repeat slots dropped), with ``repetition``
    = slot index; ``averaged=True``: one presentation per image from ``responses_repeat_averaged.npy``,
    checked to equal the ``nanmean`` of the raw trials (else :class:`NeuralDataError`).
    """
    folder = _check(folder)
    raw = np.load(os.path.join(folder, "responses_raw.npy"))
    avg = np.load(os.path.join(folder, "responses_repeat_averaged.npy"))
    ids = image_ids(folder)
    n_neurons, n_images, n_slots = raw.shape
    if avg.shape != (n_neurons, n_images) or len(ids) != n_images:
        raise NeuralDataError(f"{folder}: shapes disagree: raw {raw.shape}, averaged {avg.shape}, "
                              f"{len(ids)} images in images.zip")
    valid = ~np.isnan(raw)
    if np.any(valid.any(axis=0) != valid.all(axis=0)):
        raise NeuralDataError(f"{folder}: repeat slots are valid for some neurons and NaN for others")
    valid = valid[0]  # (images, slots)
    blocks = np.array([f"block{i // 80 + 1}" for i in range(n_images)])
    attrs = {"identifier": "Cowley2023.V4.session210325", "citation": CITATION, "license": "GPL-3.0",
             "animal": "PE", "time_bin_note": "one 100 ms spike-count window; latency not given in the source",
             "object_name_note": "object_name/category_name = blocks of 80 images, inferred, not labels"}
    neuroid_id = [f"PE_210325_n{i:02d}" for i in range(n_neurons)]
    if averaged:
        with np.errstate(invalid="ignore"):
            check = np.nanmean(raw, axis=2)
        if not np.allclose(check, avg, equal_nan=True):
            raise NeuralDataError(f"{folder}: responses_repeat_averaged.npy is not the nanmean of "
                                  "responses_raw.npy over repeats")
        a = make_assembly(avg.T[:, :, None], ids, neuroid_id, [time_bin[0]], [time_bin[1]],
                          object_name=blocks, category_name=blocks, region="V4",
                          presentation_coords={"n_repetitions": valid.sum(axis=1)}, attrs=attrs, source=folder)
        return validate_assembly(a, source=folder)
    img, slot = np.nonzero(valid)
    data = raw[:, img, slot].T[:, :, None]  # (trials, neurons, 1)
    a = make_assembly(data, ids[img], neuroid_id, [time_bin[0]], [time_bin[1]], repetition=slot,
                      object_name=blocks[img], category_name=blocks[img], region="V4", attrs=attrs,
                      source=folder)
    return validate_assembly(a, source=folder)


def load_cowley2023_images(folder, grayscale=False):
    """``(stimulus_ids, images)``: uint8 (640, 112, 112, 3) (or (640, 112, 112) with ``grayscale``),
    decoded with Pillow when installed, else TensorFlow."""
    folder = _check(folder)
    ids = image_ids(folder)
    with zipfile.ZipFile(os.path.join(folder, "images.zip")) as z:
        names = {os.path.splitext(os.path.basename(n))[0]: n for n in z.namelist()}
        blobs = [z.read(names[i]) for i in ids]
    try:
        from PIL import Image

        images = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs])
    except ImportError:  # pragma: no cover - Pillow ships with most TF installs
        import tensorflow as tf

        images = np.stack([tf.io.decode_jpeg(b, channels=3).numpy() for b in blobs])
    if grayscale:
        images = np.round(images.astype(np.float64).mean(axis=-1)).astype(np.uint8)
    return ids, images
