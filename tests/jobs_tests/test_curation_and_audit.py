"""Trial notes, tags and exclusion (kept, but out of the best trial, importances, charts
and warm starts), and the audit log of jobs, trials, model stages and deployments."""

import pytest

from automl.jobs.models import Job, Trial
from tests.support.factories import forest_dir, queued_hpo_job, register, run_here

pytestmark = pytest.mark.django_db

SPACE = {  # wide enough that trials score differently (fANOVA needs variance)
    "n_estimators": {"type": "int", "low": 1, "high": 20},
    "max_depth": {"type": "int", "low": 1, "high": 4},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 40},
}


def entries(obj):
    from automl.audit import history

    return [(e.actor.username if e.actor else None, e.changes) for e in history(obj)][::-1]


def test_excluding_the_best_trial_changes_the_best_and_the_importances(
    alice, alice_api, bob_api, iris, artifacts, alice_browser
):
    job = run_here(
        queued_hpo_job(alice, iris, model="random_forest", search_space=SPACE, n_trials=8)
    )
    assert job.status == "succeeded", job.error_message
    best, importances = job.result["best_number"], job.result["importances"]
    url = f"/api/v1/jobs/{job.id}/trials/{best}/"

    refused = alice_api.patch(url, {"excluded": True}, format="json")
    assert refused.status_code == 400 and "exclude_reason" in refused.json()["fields"]
    assert bob_api.patch(url, {"notes": "x"}, format="json").status_code == 404
    too_many = alice_api.patch(url, {"tags": [str(i) for i in range(21)]}, format="json")
    assert too_many.status_code == 400 and "tags" in too_many.json()["fields"]

    answer = alice_api.patch(
        url,
        {"excluded": True, "exclude_reason": "leaky feature", "tags": ["leak"], "notes": "n"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["excluded"] and answer.json()["tags"] == ["leak"]
    job.refresh_from_db()
    kept = Trial.objects.filter(job=job, state="complete", excluded=False)
    assert job.result["best_number"] != best
    assert job.result["best_value"] == max(t.values[0] for t in kept)
    assert job.result["importances"] and job.result["importances"] != importances
    assert job.result["n_complete"] == 8  # still counted: kept in the record

    # Left out of a warm start too.
    again = {
        "kind": "hpo",
        "dataset": iris.id,
        "config": {"model": "random_forest", "search_space": SPACE, "warm_start_from": job.id},
    }
    submitted = alice_api.post("/api/v1/jobs/", again, format="json")
    assert submitted.status_code == 201, submitted.content
    warm = submitted.json()["config"]["warm_start"]["trials"]
    assert len(warm) == 7 and Trial.objects.get(job=job, number=best).params not in [
        t["params"] for t in warm
    ]

    # The trial's audit log, on its page too.
    trial = Trial.objects.get(job=job, number=best)
    ((who, changes),) = entries(trial)
    assert who == "alice" and changes["excluded"] == [False, True]
    assert changes["exclude_reason"] == ["", "leaky feature"]
    page = alice_browser.get(f"/jobs/{job.id}/trials/{best}/").content.decode()
    assert 'id="audit-log"' in page and "leaky feature" in page

    # Included again from the page's form: the best trial comes back.
    alice_browser.post(f"/jobs/{job.id}/trials/{best}/curate/", {"notes": "fine after all"})
    job.refresh_from_db()
    assert job.result["best_number"] == best
    assert not Trial.objects.get(job=job, number=best).excluded


def test_a_job_s_status_changes_are_audited(alice, alice_api, iris):
    submitted = alice_api.post(
        "/api/v1/jobs/",
        {"kind": "hpo", "dataset": iris.id, "config": {"model": "random_forest", "n_trials": 1}},
        format="json",
    )
    job = Job.objects.get(id=submitted.json()["id"])
    assert alice_api.post(f"/api/v1/jobs/{job.id}/cancel/").status_code == 202
    assert entries(job) == [
        ("alice", {"status": [None, "queued"]}),
        ("alice", {"status": ["queued", "cancelled"]}),
    ]


def test_the_audit_log_records_a_promotion_and_a_rollback(
    alice, alice_api, tmp_path, model_store, alice_browser
):
    from automl.registry.models import ModelVersion
    from automl.serving.models import Deployment

    v1 = register(alice, forest_dir(tmp_path / "v1"), name="iris")
    v2 = register(alice, forest_dir(tmp_path / "v2"), name="iris")
    stage = lambda v, to: alice_api.post(f"/api/v1/models/{v.id}/stage/", {"stage": to})  # noqa: E731
    assert stage(v1, "production").status_code == 200
    body = {"name": "live", "model_name": "iris", "routes": [{"version": v1.id, "weight": 1}]}
    deployment = alice_api.post("/api/v1/deployments/", body, format="json").json()
    url = f"/api/v1/deployments/{deployment['id']}/"
    only_v2 = [{"version": v2.id, "weight": 1}]
    assert alice_api.patch(url, {"routes": only_v2}, format="json").status_code == 200
    assert stage(v2, "production").status_code == 200  # promotion: v1 is demoted
    assert alice_api.post(url + "rollback/").status_code == 200

    assert entries(ModelVersion.objects.get(id=v2.id)) == [
        ("alice", {"stage": ["none", "production"]})
    ]
    assert entries(ModelVersion.objects.get(id=v1.id)) == [
        ("alice", {"stage": ["none", "production"]}),
        ("alice", {"stage": ["production", "staging"]}),
    ]
    created, changed, rolled_back = entries(Deployment.objects.get(id=deployment["id"]))
    assert changed[1]["routes"][1] == [{"version": v2.id, "weight": 1}]
    assert rolled_back[0] == "alice" and rolled_back[1]["routes"][1] == [
        {"version": v1.id, "weight": 1}
    ]

    model_page = alice_browser.get(f"/models/{v1.id}/").content.decode()
    assert 'id="audit-log"' in model_page and "staging" in model_page
    deployment_page = alice_browser.get(f"/deployments/{deployment['id']}/").content.decode()
    assert 'id="audit-log"' in deployment_page
    from auditlog.models import LogEntry
    from django.contrib import admin

    assert LogEntry in admin.site._registry  # django-auditlog's own admin page lists them
