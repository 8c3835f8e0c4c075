import numpy as np
import pytest

from workers.data.builtin import BUILTIN_DATASETS, load_builtin
from workers.data.splits import holdout_split, kfold_splits


@pytest.mark.parametrize("name", sorted(BUILTIN_DATASETS))
def test_load_builtin(name):
    meta = BUILTIN_DATASETS[name]
    assert {"task", "title", "description"} <= set(meta)
    data = load_builtin(name)
    assert data.task == meta["task"]
    assert data.X.dtype == np.float64 and data.X.shape == (len(data.y), len(data.feature_names))
    assert data.target_name


def test_tasks():
    assert [n for n, m in BUILTIN_DATASETS.items() if m["task"] == "regression"] == ["diabetes"]
    assert len(BUILTIN_DATASETS) == 5


def test_unknown_dataset():
    with pytest.raises(KeyError, match="unknown builtin dataset 'nope'"):
        load_builtin("nope")


def test_holdout_is_stratified_and_seeded():
    data = load_builtin("iris")
    a, b, c = (holdout_split(data, 0.2, s) for s in (1, 1, 2))
    assert np.array_equal(a.y_valid, b.y_valid) and np.array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_valid, c.X_valid)
    assert np.bincount(a.y_valid).tolist() == [10, 10, 10]
    assert len(a.y_train) == 120


def test_kfold_is_stratified_and_covers_all_rows():
    data = load_builtin("iris")
    folds = kfold_splits(data, 5, seed=0)
    assert all(np.bincount(f.y_valid).tolist() == [10, 10, 10] for f in folds)
    assert sum(len(f.y_valid) for f in folds) == 150
    reg = kfold_splits(load_builtin("diabetes"), 3, seed=0)
    assert [len(f.y_valid) for f in reg] == [148, 147, 147]
