"""Result quality of the time budget, the ensembles and the presets (fast: small tables,
few trials, cheap families)."""

import json

import numpy as np
import optuna
import pytest
from sklearn.datasets import make_classification, make_friedman1

from workers.config import ConfigError
from workers.data.tabular import TabularData
from workers.hpo import ensemble
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import FIT_S, create_study, refit_best, run_trials
from workers.hpo.families import FAMILIES
from workers.hpo.frugal import search_share
from workers.hpo.presets import PRESETS
from workers.models.artifacts import load_model, save_model
from workers.models.ensemble import WeightedEnsemble
from workers.models.kinds import kind_of, refusal
from workers.reporter import MemoryReporter
from workers.studies.storage import make_storage

CHEAP = {
    "classification": ["logistic_regression", "random_forest", "knn"],
    "regression": ["ridge", "random_forest", "knn"],
}


def table(task: str, rows: int = 400) -> TabularData:
    names = [f"f{i}" for i in range(8)]
    if task == "classification":
        X, y = make_classification(rows, 8, n_informative=5, flip_y=0.05, random_state=0)
        return TabularData(X, y, names, task, "y", classes=[0, 1])
    X, y = make_friedman1(rows, 8, noise=1.0, random_state=0)
    return TabularData(X, y, names, task, "y")


def searched(task: str, **extra):
    config = validate_hpo_config(
        {
            "n_trials": 8,
            "sampler": {"name": "random", "seed": 0},
            "search_space": {
                "model": {
                    "type": "categorical",
                    "choices": CHEAP[task],
                    "conditional": {
                        "random_forest": {"n_estimators": {"type": "fixed", "value": 20}}
                    },
                }
            },
            "ensemble": {"enabled": True, "members": 5},
            **extra,
        },
        task,
    )
    data, storage = table(task), make_storage(None)
    create_study(config, storage, "s")
    run_trials(config, data, MemoryReporter(), storage, "s")
    return config, data, storage


def test_greedy_selection_is_never_worse_than_its_best_member_on_validation():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    outputs = [y + rng.normal(scale=s, size=200) for s in (0.5, 0.6, 0.7, 3.0)]

    def value(o, y):
        return -float(np.mean((o - y) ** 2))

    weights, best = ensemble.select(outputs, y, value, 1.0, rounds=20)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    assert best >= max(value(o, y) for o in outputs)
    # Independent errors average out: more than one member is picked, the bad one is not.
    assert (weights[:3] > 0).sum() >= 2 and weights[3] == 0


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_ensemble_is_not_worse_than_its_best_member_on_the_test_rows(task, tmp_path):
    config, data, storage = searched(task, ensemble={"enabled": True, "stack": True})
    refit = refit_best(config, data, storage, "s", tmp_path)
    found = ensemble.build(config, data, storage, "s", refit, tmp_path)
    board = found["leaderboard"]
    members = [row for row in board if row["kind"] == "family"]
    best_member = max(members, key=lambda r: r["test"])
    chosen = max((r for r in board if r["kind"] == "ensemble"), key=lambda r: r["validation"])
    # Beyond noise: below the best member's 95% bootstrap interval would be a regression.
    assert chosen["test"] >= best_member["test_ci"][0]
    assert {row["rank"] for row in board} == set(range(1, len(board) + 1))
    assert all(row["test_ci"][0] <= row["test"] <= row["test_ci"][1] for row in board)
    assert {r["name"].split(" ")[0] for r in members} <= set(CHEAP[task])
    assert sum(m["weight"] for m in found["members"]) == pytest.approx(1.0)
    # The better of the two on the test rows is what the directory holds.
    spec = json.loads((tmp_path / "spec.json").read_text())
    metric = config.objectives[0]
    if found["chosen"] == "ensemble":
        assert spec["kind"] == "ensemble" and spec["params"]["members"] == found["members"]
        assert found["test_metrics"][metric] > found["single_test_metrics"][metric]
    else:
        assert "kind" not in spec and spec["trial"] == refit["trial"]


def test_an_ensemble_is_one_servable_skops_model_that_refuses_exports(tmp_path):
    config, data, storage = searched("regression")
    trials = ensemble._candidate_trials(config, storage, "s", ())[:2]
    members = [ensemble._fit(config, t.params, data.X, data.y, None).model for t in trials]
    model = WeightedEnsemble(members, [0.25, 0.75], "regression").fitted(8)
    save_model(model, tmp_path, family="ensemble", spec={"kind": "ensemble"})
    loaded = load_model(tmp_path)
    expected = 0.25 * members[0].predict(data.X) + 0.75 * members[1].predict(data.X)
    assert np.allclose(loaded.predict(data.X), expected)
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert kind_of(spec).name == "ensemble" and spec["framework"] == "sklearn"
    assert "ensemble" in refusal(spec, "export_onnx") and refusal(spec, "deploy") is None
    assert refusal(spec, "explain") is None


def test_a_time_budget_ends_the_search_within_its_share_and_cheap_families_go_first():
    budget = 3.0
    config = validate_hpo_config({"time_budget_s": budget, "trial_rows": None}, "regression")
    assert config.n_trials == 10000  # the budget, not a count, ends it
    data, storage = table("regression"), make_storage(None)
    create_study(config, storage, "s")
    run_trials(config, data, MemoryReporter(), storage, "s")
    trials = optuna.load_study(study_name="s", storage=storage).get_trials()
    started = storage.get_study_system_attrs(0)["budget_started"]
    ended = max(t.datetime_complete.timestamp() for t in trials if t.datetime_complete)
    # Tolerance: the trial in flight at the share's end runs on to its next check (a
    # single fit of a one-shot model cannot be cut), so at most one trial's length, plus
    # a second for the bookkeeping between trials on a busy machine.
    longest = max(t.system_attrs.get(FIT_S, 0) for t in trials)
    assert ended - started <= budget * search_share(False) + longest + 1.0
    costs = [FAMILIES[t.params["model"]].cost for t in trials[:4]]
    assert costs == sorted(costs) and trials[0].params["model"] == "ridge"
    assert all(t.system_attrs[FIT_S] >= 0 for t in trials if t.state.is_finished())


def test_a_paused_job_does_not_spend_its_time_budget(monkeypatch):
    from workers.hpo import engine
    from workers.studies import clock

    now = [1000.0]
    monkeypatch.setattr(clock.time, "time", lambda: now[0])
    config = validate_hpo_config({"time_budget_s": 100}, "regression")
    storage = make_storage(None)
    create_study(config, storage, "s")
    now[0] += 30
    engine.stop_budget(storage, "s")
    now[0] += 3600  # paused for an hour
    assert engine.budget_used(config, storage, "s")["used_s"] == 30
    create_study(config, storage, "s")  # resumed
    now[0] += 10
    assert engine.budget_used(config, storage, "s")["used_s"] == 40


def test_a_budget_too_short_for_one_trial_still_gives_the_job_a_model():
    config = validate_hpo_config({"time_budget_s": 0.001}, "regression")
    data, storage = table("regression"), make_storage(None)
    create_study(config, storage, "s")
    run_trials(config, data, MemoryReporter(), storage, "s")
    trials = optuna.load_study(study_name="s", storage=storage).get_trials()
    finished = [t for t in trials if t.state.is_finished()]
    assert len(finished) == 1 and finished[0].state == optuna.trial.TrialState.COMPLETE


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_give_valid_configs_and_keys_given_win(task, name):
    config = validate_hpo_config({"preset": name}, task)
    assert config.time_budget_s == PRESETS[name].time_budget_s and config.preset == name
    assert config.model == "auto" and config.search_space["model"]["choices"]
    assert validate_hpo_config(config.to_json(), task) == config  # stored, checked again
    mine = validate_hpo_config({"preset": name, "time_budget_s": 10, "model": "knn"}, task)
    assert mine.time_budget_s == 10 and mine.model == "knn"


def test_bad_presets_and_ensembles_are_named():
    with pytest.raises(ConfigError) as bad:
        validate_hpo_config(
            {"preset": "fastest", "ensemble": {"members": 1, "colour": 1}}, "regression"
        )
    assert set(bad.value.errors) == {"preset", "ensemble.members", "ensemble.colour"}
    with pytest.raises(ConfigError) as multi:
        validate_hpo_config(
            {"metric": ["r2", "n_params"], "ensemble": {"enabled": True}}, "regression"
        )
    assert "ensemble.enabled" in multi.value.errors
