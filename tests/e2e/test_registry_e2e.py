"""From an HPO job to served predictions, on a real worker, Postgres and Redis.

A worker process runs two jobs; their refit models are registered by the job's close.
Over REST: promote one, deploy both 90/10, check the split and that answers equal the
in-process models', change the traffic and roll it back, download a version and import it
again, and serve the import with the same answers.
"""

import io
import random
from collections import Counter

import numpy as np
import pytest
from django.conf import settings

from automl.registry.models import ModelVersion
from automl.serving import cache
from automl.serving.loader import model_cache
from workers.models.artifacts import load_model, load_transformer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def in_process(job_id: int, X: np.ndarray) -> tuple[list, list]:
    """The job's refit model as the worker saved it, called in this process."""
    directory = settings.ARTIFACT_ROOT / "jobs" / str(job_id) / "best"
    model = load_model(directory)
    if (directory / "preprocessing.json").exists():
        X = load_transformer(directory).transform(X)
    return model.predict(X).tolist(), model.predict_proba(X).tolist()


def run_job(api, model: str) -> dict:
    config = {"model": model, "n_trials": 3, "sampler": {"name": "random", "seed": 0}}
    return api.submit("hpo", "iris", config, name="Iris classifier")


def test_a_job_model_is_promoted_deployed_rolled_back_and_reimported(workers, api):
    model_cache().clear()
    cache.clear()
    workers.start()
    jobs = [run_job(api, "random_forest"), run_job(api, "logistic_regression")]
    jobs = [api.wait_finished(job["id"]) for job in jobs]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"], jobs
    v1_id, v2_id = (j["result"]["refit"]["model_version"] for j in jobs)

    v1 = api.get(f"/api/v1/models/{v1_id}/")
    v2 = api.get(f"/api/v1/models/{v2_id}/")
    assert (v1["name"], v1["version"], v2["version"]) == ("iris-classifier", 1, 2)
    assert v1["lineage"]["job"] == jobs[0]["id"] and v1["lineage"]["dataset"] is not None
    assert v1["lineage"]["trial"] == jobs[0]["result"]["refit"]["trial"]
    assert v1["metrics"] == jobs[0]["result"]["refit"]["test_metrics"]
    features = v1["features"]
    assert len(features) == 4

    # Promote: v1 to production; then v2 takes its place and v1 is archived... and back.
    assert (
        api.post(f"/api/v1/models/{v1_id}/stage/", {"stage": "production"}, expect=200)["stage"]
        == "production"
    )
    api.post(f"/api/v1/models/{v2_id}/stage/", {"stage": "staging"}, expect=200)

    # Deploy 90/10; the split holds over many requests.
    routes = [{"version": v1_id, "weight": 90}, {"version": v2_id, "weight": 10}]
    deployment = api.post(
        "/api/v1/deployments/",
        {"name": "iris-live", "model_name": "iris-classifier", "routes": routes},
    )
    predict_url = f"/api/v1/deployments/{deployment['id']}/predict/"
    rng = np.random.default_rng(0)
    X = np.round(rng.uniform([4, 2, 1, 0.1], [8, 4.5, 7, 2.5], size=(300, 4)), 2)
    answered = Counter()
    for x in X:
        answer = api.post(predict_url, {"inputs": [x.tolist()]}, expect=200)
        answered[answer["version"]] += 1
    # Binomial(300, 0.1): mean 30, sd 5.2; 4 sd either side.
    assert 9 <= answered[v2_id] <= 51 and answered[v1_id] + answered[v2_id] == 300, answered

    # Answers equal the in-process models', for named rows; seeds pin the version.
    rows = [dict(zip(features, map(float, x), strict=True)) for x in X[:25]]
    seen = set()
    for seed in range(40):
        body = api.post(predict_url, {"inputs": rows, "seed": seed}, expect=200)
        job_id = jobs[0]["id"] if body["version"] == v1_id else jobs[1]["id"]
        labels, probabilities = in_process(job_id, X[:25])
        assert body["predictions"] == labels
        assert body["probabilities"] == probabilities
        seen.add(body["version"])
        if len(seen) == 2:
            break
    assert seen == {v1_id, v2_id}
    missing = {k: v for k, v in rows[0].items() if k != features[0]}
    response = api.session.post(api.base + predict_url, json={"inputs": [missing]}, timeout=10)
    assert response.status_code == 400 and features[0] in response.json()["detail"]

    # All traffic to v2, then roll back to 90/10.
    detail_url = f"/api/v1/deployments/{deployment['id']}/"
    response = api.session.patch(
        api.base + detail_url, json={"routes": [{"version": v2_id, "weight": 1}]}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert all(
        api.post(predict_url, {"inputs": rows[:1]}, expect=200)["version"] == v2_id
        for _ in range(10)
    )
    restored = api.post(detail_url + "rollback/", expect=200)
    assert restored["routes"] == [
        {"version": v1_id, "weight": 90.0},
        {"version": v2_id, "weight": 10.0},
    ]

    # Download v1, import it again, serve the import: the same answers.
    response = api.session.get(api.base + f"/api/v1/models/{v1_id}/download/", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    response = api.session.post(
        api.base + "/api/v1/models/import/",
        timeout=60,
        data={"name": "iris-classifier", "description": "re-imported"},
        files={"archive": ("v1.zip", io.BytesIO(response.content), "application/zip")},
    )
    assert response.status_code == 201, response.text
    v3 = response.json()
    assert v3["version"] == 3 and v3["sha256"] == v1["sha256"] and v3["features"] == features
    response = api.session.patch(
        api.base + detail_url, json={"routes": [{"version": v3["id"], "weight": 1}]}, timeout=10
    )
    assert response.status_code == 200, response.text
    body = api.post(predict_url, {"inputs": rows, "seed": random.randrange(100)}, expect=200)
    assert body["version"] == v3["id"]
    assert (body["predictions"], body["probabilities"]) == in_process(jobs[0]["id"], X[:25])

    # Every served request was logged, with its version.
    logged = api.get(f"/api/v1/deployments/{deployment['id']}/predictions/?page_size=1")
    assert logged["count"] >= 300 + len(seen) + 10 + 1
    assert ModelVersion.objects.filter(name="iris-classifier").count() == 3
