"""Train/test splits over images, objects and neurons, and split-halves over repetitions.

All splitters return lists of ``(train_index, test_index)`` into the stimulus axis of the
repetition-averaged assembly, and are deterministic given ``random_state``.

- ``stratified`` (default; Nayebi et al. 2018 / streams: 75/25, stratified by ``object_name``):
  sklearn ``StratifiedShuffleSplit(n_splits, train_size, random_state)``; Brain-Score's default is the
  same with train_size 0.9 and random_state 1.
- ``shuffle``: sklearn ``ShuffleSplit`` (no stratification).
- ``kfold``: sklearn ``StratifiedKFold(n_splits, shuffle=True)`` on ``object_name``.
- ``objects`` (held-out objects): in every split, a fraction ``1 - train_size`` of the objects of each
  ``category_name`` (at least one, if the category has two or more objects) goes wholly to test.
"""

from __future__ import annotations

import numpy as np

SPLIT_KINDS = ("stratified", "shuffle", "kfold", "objects")


def image_splits(n_stimuli, kind="stratified", n_splits=10, train_size=0.75, random_state=0,
                 object_name=None, category_name=None):
    """Index splits of ``n_stimuli`` stimuli; see the module docstring for each ``kind``."""
    from sklearn.model_selection import ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

    placeholder = np.zeros(n_stimuli)
    if kind == "shuffle":
        cv = ShuffleSplit(n_splits=n_splits, train_size=train_size, random_state=random_state)
        return [(np.sort(a), np.sort(b)) for a, b in cv.split(placeholder)]
    if object_name is None:
        raise ValueError(f"split kind {kind!r} needs the coordinate 'object_name'")
    objects = np.asarray(object_name)
    if kind == "stratified":
        n_test = n_stimuli - int(np.floor(train_size * n_stimuli)) if isinstance(train_size, float) else \
            n_stimuli - int(train_size)
        n_objects = len(set(objects.tolist()))
        if min(np.unique(objects, return_counts=True)[1]) < 2 or n_test < n_objects or n_stimuli - n_test < n_objects:
            raise ValueError(f"stratified image splits need >= 2 images per object and >= one per object on each "
                             f"side ({n_stimuli} images of {n_objects} objects, {n_test} in test); use more images "
                             "per object or the split kind 'shuffle' or 'objects'")
        cv = StratifiedShuffleSplit(n_splits=n_splits, train_size=train_size, random_state=random_state)
        return [(np.sort(a), np.sort(b)) for a, b in cv.split(placeholder, objects)]
    if kind == "kfold":
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
        return [(np.sort(a), np.sort(b)) for a, b in cv.split(placeholder, objects)]
    if kind == "objects":
        return held_out_object_splits(objects, category_name, n_splits, train_size, random_state)
    raise ValueError(f"unknown split kind {kind!r}; choose one of {SPLIT_KINDS}")


def held_out_object_splits(object_name, category_name=None, n_splits=10, train_size=0.75,
                           random_state=0):
    """Splits whose test set is whole objects: per category, round((1 - train_size) * n_objects) objects
    (>= 1 when the category has >= 2 objects) are drawn without replacement for test in each split."""
    objects = np.asarray(object_name)
    categories = np.asarray(category_name) if category_name is not None else np.zeros(len(objects))
    if len(set(objects.tolist())) < 2:
        raise ValueError("held-out object splits need at least two values of 'object_name'")
    by_cat = {}
    for obj, cat in dict(zip(objects.tolist(), categories.tolist())).items():
        by_cat.setdefault(cat, []).append(obj)
    if all(len(v) < 2 for v in by_cat.values()):  # one object per category: draw from all objects
        by_cat = {0: [o for v in by_cat.values() for o in v]}
    rng = np.random.default_rng(random_state)
    splits = []
    for _ in range(n_splits):
        test_objects = []
        for cat in sorted(by_cat, key=str):
            objs = sorted(by_cat[cat], key=str)
            if len(objs) < 2:
                continue  # a category's only object stays in training
            n_test = min(len(objs) - 1, max(1, int(round((1 - train_size) * len(objs)))))
            test_objects += rng.choice(objs, size=n_test, replace=False).tolist()
        in_test = np.isin(objects, test_objects)
        splits.append((np.flatnonzero(~in_test), np.flatnonzero(in_test)))
    return splits


def neuron_folds(n_neuroids, n_folds=2, random_state=0):
    """Random partition of neuroids into ``n_folds`` folds (cross-neuron validation); list of index arrays."""
    if n_folds < 2 or n_folds > n_neuroids:
        raise ValueError(f"need 2 <= n_folds <= n_neuroids ({n_neuroids}); got {n_folds}")
    perm = np.random.default_rng(random_state).permutation(n_neuroids)
    return [np.sort(f) for f in np.array_split(perm, n_folds)]


def repetition_halves(valid, n_splits=10, random_state=0, per_stimulus=False):
    """Boolean masks (n_splits, 2, n_stimuli, n_reps) of the two halves of the repetitions.

    ``valid``: (n_stimuli, n_reps) bool, True where a repetition slot holds a trial.
    Global mode (Brain-Score's InternalConsistency convention): with ``rng =
    np.random.default_rng(random_state)``, each split draws ``perm = rng.permutation(n_reps)``; half A is
    the slots ``perm[:n_reps // 2]`` and half B the rest, the same slots for every stimulus.
    ``per_stimulus=True``: each stimulus's own valid trials are shuffled (``rng.random`` keys) and halved
    (``n_valid // 2`` in A), so ragged repetition counts give balanced halves.
    """
    valid = np.asarray(valid, dtype=bool)
    n_stim, n_reps = valid.shape
    rng = np.random.default_rng(random_state)
    masks = np.zeros((n_splits, 2, n_stim, n_reps), dtype=bool)
    for s in range(n_splits):
        if per_stimulus:
            keys = np.where(valid, rng.random(valid.shape), np.inf)
            rank = np.argsort(np.argsort(keys, axis=1), axis=1)
            half = valid.sum(axis=1, keepdims=True) // 2
            masks[s, 0] = valid & (rank < half)
            masks[s, 1] = valid & (rank >= half)
        else:
            perm = rng.permutation(n_reps)
            in_a = np.zeros(n_reps, dtype=bool)
            in_a[perm[: n_reps // 2]] = True
            masks[s, 0] = valid & in_a
            masks[s, 1] = valid & ~in_a
    return masks
