"""Drift that acts, on real worker processes (Postgres, Redis): a deployed model trained on
generated rows gets shifted traffic whose true labels (feedback) follow another rule, so
the old model is wrong on it; the deployment's monitoring policy sees the drift and starts
a re-tune (a pipeline warm-started from the champion's study, on its training rows plus the
labelled traffic), the challenger beats the champion on held-out labelled rows with
McNemar's test. Each step is in the activity log."""

import numpy as np
import pytest

from automl.jobs.models import Job
from automl.monitoring.models import Activity
from automl.registry.models import ModelVersion

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def rows(n: int, seed: int, shifted: bool) -> list[dict]:
    """x1, x2 and a category; before the shift the label is x1 > 0, after it x1 sits near
    6 and the label is x2 > 0 (the old model answers "yes" to nearly all of it)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(6.0 if shifted else 0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    region = rng.choice(["north", "south"], n)
    label = (x2 > 0) if shifted else (x1 > 0)
    return [
        {"x1": round(float(a), 4), "x2": round(float(b), 4), "region": str(r), "label": y}
        for a, b, r, y in zip(x1, x2, region, np.where(label, "yes", "no"), strict=True)
    ]


def test_drift_starts_a_re_tune_whose_challenger_wins(workers, api):
    train = rows(400, 0, shifted=False)
    csv = "x1,x2,region,label\n" + "".join(
        f"{r['x1']},{r['x2']},{r['region']},{r['label']}\n" for r in train
    )
    dataset = api.upload("shop.csv", csv, target="label")
    workers.start()
    job = api.submit(
        "hpo",
        dataset["id"],
        {"model": "random_forest", "n_trials": 3, "sampler": {"name": "random", "seed": 0}},
        name="shop",
    )
    job = api.wait_finished(job["id"], timeout_s=300)
    assert job["status"] == "succeeded", job["error_message"]
    champion = ModelVersion.objects.get(job_id=job["id"])
    live = api.post(
        "/api/v1/deployments/",
        {"name": "shop", "model_name": champion.name, "routes": [{"version": champion.id}]},
    )
    url = f"/api/v1/deployments/{live['id']}"

    # Shifted traffic, then its true labels.
    traffic = rows(600, 1, shifted=True)
    labels = []
    for start in range(0, len(traffic), 100):
        batch = traffic[start : start + 100]
        inputs = [{k: r[k] for k in ("x1", "x2", "region")} for r in batch]
        answer = api.post(f"{url}/predict/", {"inputs": inputs}, expect=200)
        logged = api.get(f"{url}/predictions/?page_size=1")["results"][0]["id"]
        labels += [
            {"prediction": logged, "row": i, "label": r["label"]} for i, r in enumerate(batch)
        ]
        assert answer["version"] == champion.id
    for start in range(0, len(labels), 500):
        api.post(f"{url}/feedback/", {"feedback": labels[start : start + 500]})

    policy = api.session.put(
        api.base + f"{url}/monitoring-policy/",
        json={"action": "retune", "share_threshold": 0.3, "min_labels": 100, "n_trials": 3},
        timeout=10,
    )
    assert policy.status_code == 200, policy.text
    decision = api.post(f"{url}/monitoring-policy/check/", expect=200)
    assert decision["retune"], decision
    started = Activity.objects.get(deployment_id=live["id"], kind="retune_started")
    retune = api.wait_finished(started.job_id, timeout_s=600)

    assert retune["status"] == "succeeded", retune["error_message"]
    stages = retune["result"]["stages"]
    assert [s["type"] for s in stages] == ["search", "register", "challenge"]
    search = Job.objects.get(id=stages[0]["job"])
    assert search.config["warm_start"]["from_job"] == job["id"]
    assert len(search.config["warm_start"]["trials"]) == 3
    assert search.dataset.n_rows > 400  # the training rows plus the labelled traffic
    challenger = ModelVersion.objects.get(id=retune["result"]["model_version"])
    assert challenger.name == champion.name
    assert [a.alias for a in challenger.aliases.all()] == ["challenger"]
    comparison = Activity.objects.get(deployment_id=live["id"], kind="compared").details
    assert comparison["champion"] == champion.id and comparison["challenger"] == challenger.id
    assert comparison["challenger_score"] > comparison["champion_score"] + 0.2
    assert comparison["p_value"] < 0.05 and comparison["test"].startswith("McNemar")
    log = api.get(f"{url}/activity/?page_size=50")["results"]
    assert [e["kind"] for e in reversed(log)] == [
        "drift_checked",
        "retune_started",
        "challenger_registered",
        "compared",
    ]
    # The rate limit: drift is still there, but no second re-tune starts.
    again = api.post(f"{url}/monitoring-policy/check/", expect=200)
    assert not again["retune"] and "allows one per" in again["reason"]
