"""Neural recordings prepared for training: images, repetition-averaged targets per time bin, and the
image and neuron splits that neural training and its evaluation share.

`prepare` reads a recording (an assembly file, or ``"simulated"``: `convrnn_tf.neural.simulate`
with its gin bindings) and the images shown (the simulation's, or ``stimuli=`` a folder / array
file / tfds split with the same stimulus ids), keeps the chosen regions and time bins, and splits

* images: ``train_images`` / ``test_images`` (75/25 stratified by object, or whole held-out objects);
* neurons per region: ``train_neurons`` (their responses are the training targets) and
  ``heldout_neurons`` (never trained on; scored through a fresh PLS readout: cross-neuron validation).

Targets are z-scored per neuroid with the mean and standard deviation over training images and bins,
so that every neuron weighs the same in the loss.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from convrnn_tf.neural.assembly import (NeuralDataError, complete_mean, match_stimuli, to_dense,
                                        validate_assembly)


@dataclasses.dataclass
class NeuralTrainingData:
    """What `prepare` returns (arrays over the recording's stimuli, in the assembly's order)."""

    images: np.ndarray  #: [N, H, W, 3] as stored (uint8 0-255 or float 0-1)
    stimulus_id: np.ndarray  #: [N] str
    object_name: np.ndarray  #: [N] str
    category_name: np.ndarray  #: [N] str
    assembly: object  #: the trials (presentation x neuroid x time_bin) of the kept regions and bins
    regions: list  #: region names, in order
    responses: dict  #: {region: float32 [N, n_bins, n_neuroids]} repetition averages (all neuroids)
    time_bin_start: np.ndarray
    time_bin_end: np.ndarray
    train_images: np.ndarray  #: indices into the N stimuli
    test_images: np.ndarray
    train_neurons: dict  #: {region: indices into that region's neuroids}
    heldout_neurons: dict
    target_mean: dict  #: {region: [n_train_neurons]} for z-scoring (training images and bins)
    target_std: dict
    source: str = "neural data"

    def targets(self, region, images=None):
        """z-scored responses of ``region``'s training neurons: float32 [n, n_bins, n_train_neurons]."""
        x = self.responses[region][:, :, self.train_neurons[region]]
        if images is not None:
            x = x[images]
        return ((x - self.target_mean[region]) / self.target_std[region]).astype(np.float32)

    def region_neuroids(self, region):
        """Indices of ``region``'s neuroids in the assembly."""
        return np.flatnonzero(self.assembly["region"].values.astype(str) == region)

    @property
    def n_bins(self) -> int:
        return len(self.time_bin_start)


def _images_for(ids, stimuli, image_size):
    """Images for the recording's stimulus ids, read from ``stimuli`` (see `convrnn_tf.features.as_source`)."""
    from convrnn_tf import features

    if isinstance(stimuli, (str, os.PathLike)):
        size = (224, 224) if image_size is None else (int(image_size), int(image_size))
        source = features.open_images(stimuli, size=size)
    else:
        source = features.as_source(stimuli)
    got_ids, got = [], []
    for batch_ids, batch in source.batches(64):
        got_ids.extend(str(i) for i in batch_ids)
        got.append(np.asarray(batch))
    if not got:
        raise NeuralDataError(f"{stimuli!r}: no images")
    rows = match_stimuli(got_ids, ids, source=f"stimuli {stimuli!r}")
    return np.concatenate(got)[rows]


def prepare(neural="simulated", stimuli=None, *, regions=None, bins=None, image_split="stratified",
            train_size=0.75, heldout_neuron_fraction=0.5, image_size=None, seed=0) -> NeuralTrainingData:
    """Load and split a recording for neural training (see the module docstring).

    neural: ``"simulated"`` (`simulate_recording` with its gin bindings), a `SimulatedRecording`, an
    assembly (``xarray.DataArray``) or an assembly file (NetCDF/npz/h5, `convrnn_tf.neural.load_assembly`);
    stimuli: the images shown (required unless simulated), any id-bearing source of
    `convrnn_tf.features.as_source`; regions: default all; bins: ``(start_ms, end_ms)`` keeps the bins
    inside; image_split: "stratified" (by object) or "objects" (held-out objects);
    heldout_neuron_fraction: share of each region's neuroids held out of training (0 for none).
    """
    from convrnn_tf.neural import load_assembly, splits
    from convrnn_tf.neural.simulate import SimulatedRecording

    sim = None
    if isinstance(neural, str) and neural == "simulated":
        from convrnn_tf import configurables

        neural = configurables.simulate_recording()
    if isinstance(neural, SimulatedRecording):
        sim, assembly, source = neural, neural.assembly, "simulated recording"
        images_by_id = dict(zip(sim.stimulus_id.astype(str), range(len(sim.stimulus_id))))
    elif hasattr(neural, "dims") and hasattr(neural, "coords"):  # an assembly in memory
        assembly, source = neural, "neural assembly"
    else:
        if not neural or not os.path.exists(os.fspath(neural)):
            raise FileNotFoundError(f"neural recording not found: {neural!r} (an assembly file, or 'simulated')")
        assembly, source = load_assembly(neural), os.fspath(neural)
    if sim is None and stimuli is None:
        raise ValueError(f"{source}: stimuli= (the images shown, with the recording's stimulus ids) is required")
    assembly = validate_assembly(assembly, source=source, allow_nan=True, need=("region", "object_name"))
    available = sorted(set(assembly["region"].values.astype(str).tolist()))
    regions = list(available if regions is None else ([regions] if isinstance(regions, str) else regions))
    unknown = [r for r in regions if r not in available]
    if unknown:
        raise NeuralDataError(f"{source}: unknown region(s) {unknown}; the recording has regions {available}")
    assembly = assembly.isel(neuroid=np.flatnonzero(np.isin(assembly["region"].values.astype(str), regions)))
    if bins is not None:
        lo, hi = float(bins[0]), float(bins[1])
        keep = (assembly["time_bin_start"].values >= lo - 1e-9) & (assembly["time_bin_end"].values <= hi + 1e-9)
        if not keep.any():
            raise NeuralDataError(f"{source}: no time bin lies inside bins={list(bins)} ms")
        assembly = assembly.isel(time_bin=np.flatnonzero(keep))
    dense = to_dense(assembly, source=source, allow_nan=True)
    mean = complete_mean(dense, source)
    ids = dense.stimulus_id.astype(str)
    if sim is not None:
        images = sim.images[[images_by_id[i] for i in ids]]
    else:
        images = _images_for(ids, stimuli, image_size)
    obj = np.asarray(dense.stimulus_coords["object_name"]).astype(str)
    cat = np.asarray(dense.stimulus_coords.get("category_name", obj)).astype(str)
    if image_split not in ("stratified", "objects"):
        raise ValueError(f"image_split must be 'stratified' or 'objects', got {image_split!r}")
    train_images, test_images = splits.image_splits(len(ids), image_split, n_splits=1, train_size=train_size,
                                                    random_state=seed, object_name=obj, category_name=cat)[0]
    region_of = np.asarray(dense.neuroid_coords["region"]).astype(str)
    responses, train_n, held_n, mu, sd = {}, {}, {}, {}, {}
    rng = np.random.default_rng([seed, 8])
    for r in regions:
        cols = np.flatnonzero(region_of == r)
        responses[r] = np.transpose(mean[:, cols], (0, 2, 1)).astype(np.float32)  # [N, bins, neuroids]
        n_held = int(round(heldout_neuron_fraction * len(cols)))
        if len(cols) - n_held < 1:
            raise ValueError(f"region {r!r}: {len(cols)} neuroids leave none to train on with "
                             f"heldout_neuron_fraction={heldout_neuron_fraction}")
        perm = rng.permutation(len(cols))
        held_n[r], train_n[r] = np.sort(perm[:n_held]), np.sort(perm[n_held:])
        x = responses[r][train_images][:, :, train_n[r]]
        mu[r] = x.mean(axis=(0, 1)).astype(np.float32)
        sd[r] = np.maximum(x.std(axis=(0, 1)), 1e-6).astype(np.float32)
    return NeuralTrainingData(images, ids, obj, cat, assembly, regions, responses, dense.time_bin_start,
                              dense.time_bin_end, np.asarray(train_images), np.asarray(test_images), train_n,
                              held_n, mu, sd, source)


def training_dataset(data, batch_size, *, training=True, seed=0, input_context=None, images=None):
    """``tf.data`` of ``(normalised image, {region: z-scored targets [n_bins, n_train_neurons]})``.

    Training: the training images, shuffled (seeded) and repeated; else ``images`` (default the test
    images) once, in order.
    """
    import tensorflow as tf

    from convrnn_tf.data.pipelines import normalize

    index = data.train_images if training else (data.test_images if images is None else np.asarray(images))
    targets = {r: data.targets(r, index) for r in data.regions}
    ds = tf.data.Dataset.from_tensor_slices((data.images[index], targets))
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    ds = ds.map(lambda x, y: (normalize(x), y))
    if training:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True).repeat()
        return ds.batch(batch_size, drop_remainder=True).prefetch(2)
    return ds.batch(batch_size).prefetch(2)
