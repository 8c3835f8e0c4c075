"""GET /api/v1/jobs/{id}/leaderboard/ and the ensembling job behind it (run here)."""

from pathlib import Path

import yaml

from automl.registry.models import ModelVersion
from automl.registry.storage import get_storage
from tests.support.api import browser_for, submit
from tests.support.factories import evaluated, run_hpo
from workers.models.artifacts import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHEAP = {
    "type": "categorical",
    "choices": ["logistic_regression", "random_forest", "knn"],
    "conditional": {"random_forest": {"n_estimators": {"type": "fixed", "value": 20}}},
}


def test_an_ensembling_job_registers_the_better_model_and_ranks_a_leaderboard(
    alice, alice_api, bob_api, iris, iris_data, artifacts, settings
):
    settings.EVALUATION_RESAMPLES = 100  # the report's intervals: not what is tested here
    # Averaging the probabilities of different families lowers the log loss of the best
    # of them on iris: the ensemble wins and is the one version registered.
    job = run_hpo(
        alice,
        iris,
        n_trials=6,
        metric="log_loss",
        time_budget_s=120,
        search_space={"model": CHEAP},
        sampler={"name": "random", "seed": 0},
        validation={"method": "cv", "folds": 3},
        ensemble={"enabled": True, "members": 4},
    )
    result = job.result
    assert result["budget"]["time_budget_s"] == 120 and 0 < result["budget"]["used_s"] < 120
    found = result["ensemble"]
    assert found["chosen"] == "ensemble", found
    assert found["test_metrics"]["log_loss"] < found["single_test_metrics"]["log_loss"]
    version = ModelVersion.objects.get(id=result["refit"]["model_version"])
    assert version.spec["kind"] == "ensemble" and version.params["members"] == found["members"]
    assert len({m["trial"] for m in found["members"]}) >= 2
    model = load_model(get_storage().local_dir(version.storage_key))
    assert model.predict_proba(iris_data.X[:5]).shape == (5, 3)
    # Exported as its files, like any scikit-learn version (ONNX is refused with a reason).
    download = alice_api.get(f"/api/v1/models/{version.id}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    onnx = alice_api.get(f"/api/v1/models/{version.id}/export/onnx/")
    assert onnx.status_code == 409 and "ensemble" in onnx.json()["detail"]
    # Evaluated and explained like any model (the report the registration queued).
    _, evaluation = evaluated(job)
    assert evaluation.status == "succeeded", evaluation.error

    board = alice_api.get(f"/api/v1/jobs/{job.id}/leaderboard/").json()
    assert board["source"] == "test" and board["metric"] == "log_loss"
    assert board["ensemble"]["chosen"] == "ensemble" and board["budget"] == result["budget"]
    rows = board["rows"]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["test"] for r in rows] == sorted(r["test"] for r in rows)  # lower is better
    assert {r["kind"] for r in rows} == {"family", "ensemble"}
    low, high = rows[0]["test_ci"]
    assert low <= rows[0]["test"] <= high and rows[0]["fit_s"] > 0
    assert bob_api.get(f"/api/v1/jobs/{job.id}/leaderboard/").status_code == 404

    page = browser_for(alice).get(f"/jobs/{job.id}/").content.decode()
    assert 'id="leaderboard"' in page and "ensemble (caruana)" in page
    assert 'id="job-budget"' in page and "of 2 min 00 s" in page
    assert "beat the single best trial there and is the registered model" in page


def test_a_job_without_ensembling_ranks_its_families_on_validation(alice, alice_api, iris):
    job = run_hpo(
        alice, iris, n_trials=4, search_space={"model": CHEAP}, sampler={"name": "random"}
    )
    board = alice_api.get(f"/api/v1/jobs/{job.id}/leaderboard/").json()
    assert board["source"] == "validation" and board["budget"] is None
    rows = board["rows"]
    assert len({r["name"].split(" ")[0] for r in rows}) == len(rows)
    assert [r["validation"] for r in rows] == sorted((r["validation"] for r in rows), reverse=True)
    best = next(r for r in rows if r["single_best"])
    assert best["test"] == job.result["refit"]["test_metrics"]["accuracy"]


def test_the_budget_example_is_a_valid_submission(alice_api, iris):
    example = yaml.safe_load((EXAMPLES / "hpo-budget.yaml").read_text())
    response = submit(alice_api, "hpo", iris, example["config"])
    assert response.status_code == 201, response.json()
    config = response.json()["config"]
    assert (config["preset"], config["time_budget_s"]) == ("balanced", 120)
    assert config["ensemble"] == {"enabled": True, "members": 8, "rounds": 25, "stack": True}
    assert config["validation"] == {"method": "cv", "folds": 3}
