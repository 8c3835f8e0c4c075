"""Pipeline jobs in this process: submission checks over the API, the inline stages (gate,
register, deploy) on a registered model, a compression stage as a child job, a failing
gate, continuing from a stage, cancelling, and the job page."""

import pytest

from automl.jobs import dispatch, lifecycle, tasks
from automl.jobs.models import Job
from automl.jobs.runners.pipeline import advance, canary_routes
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment
from tests.support.api import submit
from tests.support.factories import forest_dir, mlp_dir, register

pytestmark = pytest.mark.django_db

GATE = {"type": "gate", "conditions": [{"check": "metric", "metric": "accuracy", "min": 0.9}]}
REGISTER = {"type": "register", "stage": "staging", "alias": "challenger"}
DEPLOY = {"type": "deploy", "deployment": "live"}


@pytest.fixture
def forest(alice, tmp_path, model_store):
    return register(
        alice, forest_dir(tmp_path / "forest"), name="iris", metrics={"accuracy": 0.95}
    )


def start(api, dataset, config):
    """Submit over the API, then do what a worker does with run_job."""
    response = submit(api, "pipeline", dataset, config)
    assert response.status_code == 201, response.json()
    tasks.run_job(response.json()["id"])
    return Job.objects.get(id=response.json()["id"])


def test_a_search_stage_is_checked_by_its_kinds_validator(alice_api, iris):
    config = {"stages": [{"type": "search", "kind": "hpo", "config": {"n_trials": 0}}]}
    response = submit(alice_api, "pipeline", iris, config)
    assert response.status_code == 400
    assert "config.stages.0.config.n_trials" in response.json()["fields"], response.json()
    good = {"stages": [{"type": "search", "kind": "hpo", "config": {"model": "mlp"}}, GATE]}
    response = submit(alice_api, "pipeline", iris, good)
    assert response.status_code == 201, response.json()
    stored = response.json()["config"]["stages"][0]["config"]
    assert stored["n_trials"] > 0 and stored["parallelism"] == 1, "defaults filled in"


def test_another_users_model_is_not_a_start(bob_api, iris, forest):
    response = submit(bob_api, "pipeline", iris, {"model_version": forest.id, "stages": [GATE]})
    assert response.status_code == 400
    assert "does not exist" in response.json()["fields"]["config.model_version"][0]


def test_gate_register_deploy_run_inline_on_a_registered_model(alice, alice_api, iris, forest):
    job = start(alice_api, iris, {"model_version": forest.id, "stages": [GATE, REGISTER, DEPLOY]})
    assert job.status == "succeeded", job.error_message
    assert [s["status"] for s in job.result["stages"]] == ["succeeded"] * 3
    assert job.result["stages"][0]["checks"][0]["value"] == 0.95
    forest.refresh_from_db()
    assert forest.stage == "staging" and [a.alias for a in forest.aliases.all()] == ["challenger"]
    assert Deployment.objects.get(owner=alice, name="live").routes == [
        {"version": forest.id, "weight": 100.0}
    ]


def test_a_failing_gate_stops_with_the_condition_and_value_and_can_continue(
    alice_api, iris, forest
):
    strict = {
        "type": "gate",
        "conditions": [{"check": "metric", "metric": "accuracy", "min": 0.99}],
    }
    job = start(alice_api, iris, {"model_version": forest.id, "stages": [strict, REGISTER]})
    assert job.status == "failed"
    assert job.error_message == "stage 1 (gate) failed: accuracy >= 0.99 not met (found 0.95)"
    assert [s["status"] for s in job.result["stages"]] == ["failed", "pending"]
    forest.refresh_from_db()
    assert forest.stage == "none", "nothing after the gate ran"

    # Continue from stage 2 is past the one that stopped: refused; from the gate: queued.
    url = f"/api/v1/jobs/{job.id}/retry-stage/"
    response = alice_api.post(url, {"stage": 1}, format="json")
    assert response.status_code == 400 and "stage" in response.json()["fields"]
    forest.metrics = {"accuracy": 0.995}
    forest.save()
    response = alice_api.post(url, {"stage": 0}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    tasks.run_job(job.id)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert job.result["stages"][0]["earlier"][0]["status"] == "failed"


def test_retry_stage_refuses_a_running_job_and_other_kinds(
    alice, alice_api, bob_api, iris, forest
):
    hpo = Job.objects.create(owner=alice, kind="hpo", name="h", dataset=iris, config={})
    response = alice_api.post(f"/api/v1/jobs/{hpo.id}/retry-stage/", {"stage": 0}, format="json")
    assert response.status_code == 400
    assert bob_api.post(f"/api/v1/jobs/{hpo.id}/retry-stage/", {"stage": 0}).status_code == 404


def test_a_compression_stage_is_a_child_job(alice, alice_api, iris, tmp_path, model_store):
    mlp = register(alice, mlp_dir(tmp_path / "mlp"), name="iris-mlp")
    compress = {"type": "compression", "config": {"steps": ["dynamic_int8"]}}
    drop = {"type": "gate", "conditions": [{"check": "drop", "metric": "accuracy", "max": 1.0}]}
    job = start(alice_api, iris, {"model_version": mlp.id, "stages": [compress, drop]})
    assert job.status == "running"
    child = Job.objects.get(parent=job)
    assert child.kind == "compression" and child.config["model_version"] == mlp.id
    # A running pipeline holds no worker slot and no running-job slot: its child does.
    assert list(dispatch.held_rows(Job.objects.filter(id=job.id))) == []

    tasks.run_job(child.id)  # the child's end wakes the pipeline (a message); run it here
    tasks.run_trials(job.id, 0)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    made = ModelVersion.objects.get(id=job.result["model_version"])
    assert made.parent_id == mlp.id and made.job_id == child.id
    assert job.result["stages"][1]["checks"][0]["passed"]

    page = alice_api.get(f"/jobs/{job.id}/")  # API client is signed in for pages too
    assert page.status_code in (200, 302)


def test_cancelling_a_pipeline_cancels_its_running_stage(
    alice, alice_api, iris, tmp_path, model_store
):
    mlp = register(alice, mlp_dir(tmp_path / "mlp"), name="iris-mlp")
    compress = {"type": "compression", "config": {"steps": ["dynamic_int8"]}}
    job = start(alice_api, iris, {"model_version": mlp.id, "stages": [compress, GATE]})
    child = Job.objects.get(parent=job)
    assert alice_api.post(f"/api/v1/jobs/{job.id}/cancel/").status_code in (200, 202)
    child.refresh_from_db()
    assert child.status == "cancelled"
    advance(job.id)  # what the child's end (and the cancel) wake
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.result["stages"][0]["status"] == "cancelled"


def test_the_job_page_draws_the_stages(alice, alice_browser, alice_api, iris, forest):
    job = start(alice_api, iris, {"model_version": forest.id, "stages": [GATE, REGISTER]})
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="pipeline-stages"' in page and "accuracy &gt;= 0.9" in page
    charts = alice_browser.get(f"/jobs/{job.id}/charts/").content.decode()
    assert "Stages (top) and the model versions" in charts


def test_a_canary_takes_its_share_and_the_others_keep_their_proportions():
    routes = [{"version": 1, "weight": 3}, {"version": 2, "weight": 1}]
    assert canary_routes(routes, 7, 0.2) == [
        {"version": 1, "weight": pytest.approx(60.0)},
        {"version": 2, "weight": pytest.approx(20.0)},
        {"version": 7, "weight": pytest.approx(20.0)},
    ]
    assert canary_routes(routes, 2, 1.0) == [{"version": 2, "weight": 100.0}]


def test_a_finished_child_wakes_its_parent(
    alice, iris, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.run_trials, "apply_async", lambda args, queue: sent.append(args))
    parent = Job.objects.create(owner=alice, kind="pipeline", name="p", dataset=iris, config={})
    child = Job.objects.create(
        owner=alice, kind="hpo", name="c", dataset=iris, config={}, parent=parent
    )
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(child.id, Job.Status.CANCELLED)
    assert sent == [(parent.id, 0)]


def test_the_form_builds_the_stages(alice_browser, alice, iris):
    assert 'name="gate_min"' in alice_browser.get("/jobs/new/pipeline/").content.decode()
    form = {
        "name": "form pipeline",
        "dataset": iris.id,
        "model": "mlp",
        "n_trials": 2,
        "compress": "dynamic_int8",
        "gate_min": 0.8,
        "gate_max_drop": 0.05,
        "gate_max_ms": 50,
        "gate_batch": 64,
        "register_name": "iris-form",
        "register_alias": "challenger",
        "deployment": "iris-live",
        "share": 10,
        "device": "cpu",
    }
    response = alice_browser.post("/jobs/new/pipeline/", form)
    job = Job.objects.get(owner=alice)
    assert response.status_code == 302, response.content.decode()[:2000]
    stages = job.config["stages"]
    assert [s["type"] for s in stages] == [
        "search",
        "compression",
        "gate",
        "register",
        "deploy",
    ]
    assert [c["check"] for c in stages[2]["conditions"]] == ["metric", "drop", "latency"]
    assert stages[4]["share"] == pytest.approx(0.1)
    bad = alice_browser.post("/jobs/new/pipeline/", {**form, "advanced": '{"stages": []}'})
    assert bad.status_code == 400 and "stages" in bad.content.decode()
