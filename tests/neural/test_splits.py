"""Image, object, neuron and repetition splits; region selection; Spearman-Brown."""

import numpy as np
import pytest

from convrnn_tf.neural import (NeuralDataError, fit_neural, held_out_object_splits, image_splits, make_assembly,
                               neuron_folds, repetition_halves, spearman_brown)

OBJECTS = np.repeat([f"o{i}" for i in range(8)], 10)
CATEGORIES = np.repeat([f"c{i}" for i in range(4)], 20)


def test_stratified_75_25_balanced_per_object():
    splits = image_splits(80, "stratified", n_splits=4, train_size=0.75, random_state=0, object_name=OBJECTS)
    assert len(splits) == 4
    for tr, te in splits:
        assert len(tr) == 60 and len(te) == 20 and not set(tr) & set(te)
        assert all(np.sum(OBJECTS[te] == o) in (2, 3) for o in np.unique(OBJECTS))
    again = image_splits(80, "stratified", n_splits=4, train_size=0.75, random_state=0, object_name=OBJECTS)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    folds = image_splits(80, "kfold", n_splits=4, object_name=OBJECTS)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(80))
    with pytest.raises(ValueError, match="unknown split kind"):
        image_splits(80, "bogus", object_name=OBJECTS)


def test_held_out_objects_are_whole_and_per_category():
    for tr, te in held_out_object_splits(OBJECTS, CATEGORIES, n_splits=5, train_size=0.5, random_state=1):
        assert not set(OBJECTS[tr]) & set(OBJECTS[te])
        assert len(set(OBJECTS[te])) == 4  # one of the two objects of each category
        assert set(CATEGORIES[te]) == set(CATEGORIES)
    singles = held_out_object_splits(OBJECTS, OBJECTS, n_splits=2, train_size=0.75)  # one object per category
    assert all(len(set(OBJECTS[te])) == 2 for _, te in singles)
    with pytest.raises(ValueError, match="two values of 'object_name'"):
        held_out_object_splits(np.repeat(["a"], 5))


def test_neuron_folds_and_repetition_halves():
    folds = neuron_folds(11, 3, random_state=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(11))
    valid = np.ones((5, 10), dtype=bool)
    valid[0, 6:] = False  # a stimulus with 6 trials
    masks = repetition_halves(valid, n_splits=3, random_state=0)
    assert masks.shape == (3, 2, 5, 10)
    assert np.all(masks[:, 0] | masks[:, 1] == valid) and not np.any(masks[:, 0] & masks[:, 1])
    assert np.all(masks[:, 0, 1:].sum(axis=-1) == 5)  # global: the same slots for every stimulus
    per = repetition_halves(valid, n_splits=3, random_state=0, per_stimulus=True)
    assert np.all(per[:, 0].sum(axis=-1) == valid.sum(axis=-1) // 2)
    assert np.all(per[:, 0] | per[:, 1] == valid)
    np.testing.assert_allclose(spearman_brown([0.5, 0.0, 1.0]), [2 / 3, 0.0, 1.0])


def test_region_selection():
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(40)]
    a = make_assembly(rng.normal(size=(40, 4, 1)), ids, ["a", "b", "c", "d"], [70], [170],
                      object_name=np.repeat(["x", "y"], 20), region=["V4", "IT", "IT", "V4"])
    ds = fit_neural(rng.normal(size=(40, 5)), a, stimulus_ids=ids, region="IT", n_splits=2, ceiling=False,
                    attrs={"layer": "conv5"})
    assert ds["neuroid_id"].values.tolist() == ["b", "c"] and ds.attrs["region"] == "IT"
    with pytest.raises(NeuralDataError, match="no neuroid has region 'pIT'"):
        fit_neural(rng.normal(size=(40, 5)), a, stimulus_ids=ids, region="pIT", ceiling=False)
