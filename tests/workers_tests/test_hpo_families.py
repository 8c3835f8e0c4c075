"""Contract test run over every model family: search, refit, save and load it."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from workers.data.builtin import load_builtin
from workers.data.tabular import TabularData
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import create_study, refit_best, run_trials
from workers.hpo.families import FAMILIES
from workers.models.artifacts import load_model
from workers.reporter import MemoryReporter
from workers.studies.storage import make_storage


def fixed(**values):
    return {name: {"type": "fixed", "value": v} for name, v in values.items()}


# Small settings, so that every family trains in well under a second.
SPACES = {
    "random_forest": fixed(n_estimators=20),
    "hist_gradient_boosting": fixed(max_iter=20),
    "lightgbm": fixed(n_estimators=30, num_leaves=8),
    "xgboost": fixed(n_estimators=30, max_depth=3),
    "mlp": fixed(epochs=5, hidden_units=16, lr=0.01),
    "cnn": fixed(epochs=4, width=8, blocks=2, lr=0.02, batch_size=16),
}
CASES = [(name, task) for name, fam in FAMILIES.items() for task in fam.tasks]


@pytest.fixture(scope="module")
def datasets():
    X, y = load_digits(return_X_y=True)
    images = (X[:500] / 16.0).reshape(-1, 1, 8, 8)  # N x C x H x W
    digits = TabularData(images, y[:500], [], "classification", "digit")
    return {
        "classification": load_builtin("iris"),
        "regression": load_builtin("diabetes"),
        "images": digits,
    }


@pytest.mark.parametrize(("name", "task"), CASES)
def test_family_searches_refits_and_round_trips(datasets, tmp_path, name, task):
    data = datasets["images" if FAMILIES[name].inputs == "image" else task]
    metric = ["accuracy", "n_params"] if task == "classification" else ["r2", "n_params"]
    raw = {"model": name, "metric": metric, "n_trials": 2, "sampler": "random"}
    if name in SPACES:
        raw["search_space"] = SPACES[name]
    config = validate_hpo_config(raw, task)
    storage = make_storage(None)
    create_study(config, storage, "s")
    run_trials(config, data, MemoryReporter(), storage, "s")

    refit = refit_best(config, data, storage, "s", tmp_path)
    quality, n_params = refit["test_metrics"][metric[0]], refit["test_metrics"]["n_params"]
    assert quality > (0.5 if task == "classification" else 0.0) and n_params > 0
    assert refit["family"] == name and refit["test_rows"] == math.ceil(0.2 * len(data.y))
    assert set(refit["files"]) <= {p.name for p in tmp_path.iterdir()}
    model = load_model(tmp_path)
    assert model.predict(data.X[:7]).shape == (7,)
    if task == "classification":
        assert set(np.unique(model.predict(data.X))) <= set(np.unique(data.y))


def test_a_tabular_family_refuses_images(datasets):
    from workers.hpo.engine import HpoError, run_hpo

    config = validate_hpo_config({"model": "knn"}, "classification")
    with pytest.raises(HpoError, match="knn"):
        run_hpo(config, datasets["images"], MemoryReporter())


def test_the_mlp_family_trains_data_parallel_and_reports_once():
    from sklearn.datasets import load_iris

    from workers.hpo.families import FAMILIES, FitContext
    from workers.training.options import TrainerOptions

    X, y = load_iris(return_X_y=True)
    steps = []
    ctx = FitContext(
        "classification",
        0,
        on_step=lambda step, model: steps.append(step),
        trainer=TrainerOptions(processes=2, device="cpu"),
    )
    params = {"hidden_layers": 1, "hidden_units": 16, "epochs": 30, "batch_size": 30, "lr": 0.01}
    model = FAMILIES["mlp"].fit(params, X, y, ctx)
    assert steps == [29]  # once, after the last epoch
    assert (model.predict(X) == y).mean() > 0.85
    with pytest.raises(ValueError, match="fixed learning rate"):
        FAMILIES["mlp"].fit({**params, "lr_schedule": "hypergradient"}, X, y, ctx)
