"""Contract test run over every registered sampler."""

import pytest

from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import run_hpo
from workers.hpo.samplers import SAMPLERS
from workers.reporter import MemoryReporter

# A finite space, so that every sampler (grid included) can search it.
SPACE = {
    "C": {"type": "float", "low": 0.5, "high": 5.0, "step": 0.5},
    "kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
}
# Options that make the model-based samplers leave their random start within 4 trials.
OPTIONS = {
    "tpe": {"n_startup_trials": 2},
    "gp": {"n_startup_trials": 2},
    "nsga2": {"population_size": 2},
}


def search(iris_data, name, seed, n_trials=4, **extra):
    config = validate_hpo_config(
        {
            "model": "svm",
            "search_space": SPACE,
            "n_trials": n_trials,
            "sampler": {"name": name, "seed": seed, **OPTIONS.get(name, {})},
            **extra,
        },
        "classification",
    )
    reporter = MemoryReporter()
    result = run_hpo(config, iris_data, reporter)
    return result, [f["params"] for f in reporter.finished]


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_it_searches_deterministically(iris_data, name):
    result, params = search(iris_data, name, seed=3)
    assert result.n_complete == 4 and result.best_value > 0.8
    assert all(p["C"] in [0.5 * i for i in range(1, 11)] for p in params)
    assert all(p["kernel"] in ("rbf", "linear") for p in params)
    assert search(iris_data, name, seed=3)[1] == params


@pytest.mark.parametrize("name", [n for n, s in SAMPLERS.items() if s.multi_objective])
def test_multi_objective_samplers_find_a_pareto_front(iris_data, name):
    result, _ = search(iris_data, name, seed=0, metric=["accuracy", "n_params"])
    front = [t["values"] for t in result.best_trials]
    assert front and result.best_values == front[0]
    for a in front:  # no trial of the front dominates another
        assert not any(b != a and b[0] >= a[0] and b[1] <= a[1] for b in front)


def test_the_grid_stops_when_every_point_was_tried(iris_data):
    space = {
        "C": {"type": "categorical", "choices": [1.0, 2.0]},
        "kernel": {"type": "fixed", "value": "linear"},
    }
    config = validate_hpo_config(
        {"model": "svm", "search_space": space, "n_trials": 5, "sampler": "grid"}, "classification"
    )
    reporter = MemoryReporter()
    result = run_hpo(config, iris_data, reporter)
    assert result.n_complete == 2
    assert sorted(f["params"]["C"] for f in reporter.finished) == [1.0, 2.0]
