"""From HPO jobs on a real worker (Postgres, Redis) to their models' evaluation reports,
comparison, explanations and model cards, all over REST."""

import io
import time
import zipfile

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_evaluated(api, version_id: int, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = api.session.get(
            f"{api.base}/api/v1/models/{version_id}/evaluation/", timeout=10
        )
        if response.status_code == 200 and response.json()["status"] in ("succeeded", "failed"):
            return response.json()
        time.sleep(0.5)
    raise AssertionError(f"version {version_id} not evaluated after {timeout_s}s")


def test_an_hpo_models_report_comparison_explanation_and_card(workers, api):
    workers.start()
    jobs = [
        api.submit("hpo", "iris", {"model": model, "n_trials": 3}, name="Iris e2e")
        for model in ("random_forest", "logistic_regression")
    ]
    jobs = [api.wait_finished(job["id"]) for job in jobs]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"], jobs
    a, b = (j["result"]["refit"]["model_version"] for j in jobs)

    # Queued by the job's close, computed by the worker: on the rows the job held out.
    evaluation = wait_evaluated(api, a)
    assert evaluation["status"] == "succeeded", evaluation["error"]
    report = evaluation["report"]
    version = api.get(f"/api/v1/models/{a}/")
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(version["metrics"]["accuracy"])
    assert report["split"]["job"] == jobs[0]["id"] and report["confusion_matrix"]
    assert wait_evaluated(api, b)["status"] == "succeeded"

    comparison = api.get(f"/api/v1/models/{a}/evaluation/compare/{b}/")
    assert comparison["test"].startswith(("McNemar", "none")) and comparison["summary"]
    assert 0 <= comparison["p_value"] <= 1

    deployment = api.post(
        "/api/v1/deployments/",
        {
            "name": "iris-explained",
            "model_name": version["name"],
            "routes": [{"version": a, "weight": 1}],
        },
    )
    answer = api.post(
        f"/api/v1/deployments/{deployment['id']}/predict/",
        {"inputs": [[5.9, 3.0, 5.1, 1.8]], "explain": True},
        expect=200,
    )
    row = answer["explanations"]["rows"][0]
    assert set(row["attributions"]) == set(version["features"])
    assert row["prediction"] == answer["predictions"][0]

    card = api.session.get(f"{api.base}/api/v1/models/{a}/card/?output=markdown", timeout=10)
    assert "Evaluation on held-out rows" in card.text and "Known limits" in card.text
    download = api.session.get(f"{api.base}/api/v1/models/{a}/download/", timeout=30)
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert {"MODEL_CARD.md", "MODEL_CARD.html"} <= set(names)
