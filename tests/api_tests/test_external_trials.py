"""The external-trial endpoints (ask, report, tell, heartbeat) through the DRF client: the
budget, the pruner's answer, lost trials replaced, bad input and other users' jobs.

The job's worker messages are run here (run_job sets up the study, run_trials closes the
job), as a worker would run them."""

import io
import json
import zipfile
from uuid import uuid4

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from automl.jobs import tasks
from automl.jobs.models import Job, Trial
from tests.support.api import browser_for, submit

pytestmark = pytest.mark.django_db

CONFIG = {
    "search_space": {
        "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "arch": {
            "type": "categorical",
            "choices": ["small", "big"],
            "conditional": {"big": {"layers": {"type": "int", "low": 2, "high": 4}}},
        },
    },
    "metric": "accuracy",
    "direction": "maximize",
    "n_trials": 3,
    "sampler": {"name": "random", "seed": 1},
    "pruner": {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
}


def started(client, **changes) -> Job:
    # A name of its own: SQLite hands a rolled-back job's id out again, and the study's
    # name (job-<id>-<name>) must not meet an earlier test's journal.
    response = submit(client, "external", None, {**CONFIG, **changes}, name=uuid4().hex)
    assert response.status_code == 201, response.json()
    assert response.json()["dataset"] is None and response.json()["dataset_name"] is None
    tasks.run_job(response.json()["id"])
    return Job.objects.get(id=response.json()["id"])


def ask(client, job, expect=200) -> dict:
    response = client.post(f"/api/v1/jobs/{job.id}/trials/ask/", {"worker": "box:1"}, "json")
    assert response.status_code == expect, response.json()
    return response.json()


def call(client, job, trial: dict, action: str, expect=200, **body) -> dict:
    response = client.post(
        f"/api/v1/jobs/{job.id}/trials/{trial['number']}/{action}/",
        {"token": trial["token"], **body},
        "json",
    )
    assert response.status_code == expect, response.json()
    return response.json()


def test_it_hands_out_the_budget_prunes_and_closes(alice_api):
    job = started(alice_api, n_trials=4)
    first, second = ask(alice_api, job), ask(alice_api, job)
    assert first["status"] == "trial" and second["status"] == "trial"
    assert {first["number"], second["number"]} == {0, 1}
    assert 1e-4 <= first["params"]["lr"] <= 0.1 and first["params"]["arch"] in ("small", "big")
    row = Trial.objects.get(job=job, number=0)
    assert row.state == "running" and row.worker == "box:1" and row.params == first["params"]

    assert call(alice_api, job, first, "report", step=0, value=0.9) == {"should_prune": False}
    assert call(alice_api, job, first, "heartbeat") == {"state": "running"}
    told = call(alice_api, job, first, "tell", value=0.9)
    assert told["state"] == "complete" and told["values"] == [0.9]
    assert told["intermediate_values"] == {"0": 0.9}

    # Worse than the median of the complete trials at the same step: the pruner says stop.
    assert call(alice_api, job, second, "report", step=0, value=0.1) == {"should_prune": True}
    pruned = call(alice_api, job, second, "tell", state="pruned")
    assert pruned["state"] == "pruned" and pruned["values"] == [0.1], "its last value"
    third = ask(alice_api, job)
    failed = call(alice_api, job, third, "tell", state="failed", error="CUDA out of memory")
    assert failed["state"] == "failed" and failed["error"] == "CUDA out of memory"

    fourth = ask(alice_api, job)  # the last place: a failed trial takes one, as in HPO
    assert fourth["status"] == "trial" and fourth["number"] == 3
    assert ask(alice_api, job) == {
        "status": "wait",
        "number": None,
        "params": {},
        "token": None,
        "heartbeat_s": 15.0,
        "retry_after_s": 5.0,
    }, "every place is taken while a trial still runs"
    call(alice_api, job, fourth, "tell", values=[0.95])
    assert ask(alice_api, job)["status"] == "done"
    job.refresh_from_db()
    assert job.progress == 1.0

    tasks.run_trials(job.id, 0)  # the closer the last tell sent
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert job.result["best_number"] == 3 and job.result["best_value"] == 0.95
    assert (job.result["n_complete"], job.result["n_pruned"], job.result["n_failed"]) == (2, 1, 1)
    ask(alice_api, job, expect=409)


def test_a_trial_whose_heartbeat_stops_is_failed_as_lost_and_replaced(alice_api):
    job = started(alice_api, n_trials=1, lost_after_s=30)
    silent = ask(alice_api, job)
    assert ask(alice_api, job)["status"] == "wait"
    # No sleep: the trial's last sign of life is moved back past lost_after_s.
    _age_trial(job, silent["number"], seconds=60)
    replacement = ask(alice_api, job)
    assert replacement["status"] == "trial" and replacement["number"] == 1
    lost = Trial.objects.get(job=job, number=silent["number"])
    assert lost.state == "failed" and "lost" in lost.error
    refused = call(alice_api, job, silent, "report", expect=409, step=0, value=1.0)
    assert "lost" in refused["detail"], "the silent machine learns its trial was given away"
    call(alice_api, job, replacement, "tell", value=1.0)
    tasks.run_trials(job.id, 0)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["n_failed"] == 1


def _age_trial(job, number: int, seconds: float) -> None:
    """As if the trial's machine had beaten last `seconds` ago."""
    import time

    import optuna

    from automl.jobs.studies import study_storage
    from workers.studies.storage import trial_id

    storage = study_storage(job)
    trial = optuna.load_study(study_name=job.study_name, storage=storage).trials[number]
    storage.set_trial_system_attr(trial_id(trial), "heartbeat", time.time() - seconds)


def test_bad_input_is_a_400_naming_the_field(alice_api):
    bad = submit(alice_api, "external", None, {"search_space": {"x": {"type": "float"}}})
    assert bad.status_code == 400
    fields = bad.json()["fields"]
    assert "config.direction" in fields and "config.search_space.x.low" in fields
    needs_data = submit(alice_api, "hpo", None, {"model": "logistic_regression"})
    assert needs_data.status_code == 400 and "dataset" in needs_data.json()["fields"]

    job = started(alice_api)
    trial = ask(alice_api, job)
    assert "value" in call(alice_api, job, trial, "report", expect=400, step=0)["fields"]
    assert "step" in call(alice_api, job, trial, "report", expect=400, step=-1, value=1)["fields"]
    assert "value" in call(alice_api, job, trial, "tell", expect=400)["fields"]
    assert "values" in call(alice_api, job, trial, "tell", expect=400, values=[1, 2])["fields"]
    wrong = {**trial, "token": ask(alice_api, job)["token"]}
    assert "token" in call(alice_api, job, wrong, "tell", expect=400, value=1)["fields"]
    assert call(alice_api, job, {**trial, "number": 99}, "tell", expect=400, value=1)
    call(alice_api, job, trial, "tell", value=0.5)
    again = call(alice_api, job, trial, "tell", expect=409, value=0.5)
    assert again["error"] == "conflict"


def test_another_users_job_is_a_404_and_a_platform_job_is_a_409(alice_api, bob_api, alice, iris):
    job = started(alice_api)
    trial = ask(alice_api, job)
    assert ask(bob_api, job, expect=404)["error"] == "not_found"
    for action in ("report", "heartbeat", "tell"):
        call(bob_api, job, trial, action, expect=404, step=0, value=1.0)
    hpo = Job.objects.create(
        owner=alice, kind="hpo", name="h", dataset=iris, config={}, status="running"
    )
    assert "platform's workers" in ask(alice_api, hpo, expect=409)["detail"]
    queued = submit(alice_api, "external", None, CONFIG).json()
    assert ask(alice_api, Job(id=queued["id"]))["status"] == "wait", "its study is coming"


def test_the_new_job_page_submits_an_external_job_without_a_data_set(alice_browser):
    page = alice_browser.get("/jobs/new/external/")
    assert page.status_code == 200 and b"search_space" in page.content
    form = {
        "name": "my trainer",
        "dataset": "",
        "metric": "val_acc",
        "direction": "maximize",
        "n_trials": 5,
        "sampler": "tpe",
        "pruner": "median",
        "lost_after_s": 60,
        "advanced": '{"search_space": {"lr": {"type": "float", "low": 0.001, "high": 0.1}}}',
    }
    response = alice_browser.post("/jobs/new/external/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get(name="my trainer")
    assert job.kind == "external" and job.dataset is None and job.config["metric"] == "val_acc"
    assert alice_browser.get(f"/jobs/{job.id}/").status_code == 200
    assert alice_browser.get("/jobs/").status_code == 200


def attach(client, job, trial: dict, name: str, content: bytes, expect=201) -> dict:
    response = client.post(
        f"/api/v1/jobs/{job.id}/trials/{trial['number']}/files/",
        {"token": trial["token"], "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )
    assert response.status_code == expect, response.json()
    return response.json()


def test_the_best_trials_files_are_kept_and_downloadable_and_nothing_else(
    alice_api, model_store, settings, tmp_path
):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    job = started(alice_api, n_trials=2)
    best, other = ask(alice_api, job), ask(alice_api, job)
    assert attach(alice_api, job, best, "weights.npz", b"my weights") == {"files": ["weights.npz"]}
    listed = attach(alice_api, job, best, "notes.txt", b"lr was fine")
    assert listed == {"files": ["notes.txt", "weights.npz"]}
    assert "file" in attach(alice_api, job, best, "my model.bin", b"x", expect=400)["fields"]
    attach(alice_api, job, other, "weights.npz", b"worse weights")
    call(alice_api, job, best, "tell", value=0.9)
    call(alice_api, job, other, "tell", value=0.4)
    tasks.run_trials(job.id, 0)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message

    version_id = job.result["model_version"]
    version = alice_api.get(f"/api/v1/models/{version_id}/").json()
    assert version["framework"] == "external" and version["metrics"] == {"accuracy": 0.9}
    zipped = zipfile.ZipFile(
        io.BytesIO(alice_api.get(f"/api/v1/models/{version_id}/download/").getvalue())
    )
    assert zipped.read("weights.npz") == b"my weights" and "notes.txt" in zipped.namelist()
    assert json.loads(zipped.read("spec.json"))["files"]["weights.npz"]["size"] == 10
    # Files the platform does not read: every other action is refused with the reason.
    deploy = alice_api.post(
        "/api/v1/deployments/",
        {"name": "mine", "model_name": version["name"], "routes": [{"version": version_id}]},
        format="json",
    )
    assert deploy.status_code == 400
    assert "does not read" in deploy.json()["fields"]["routes.0.version"][0]
    evaluate = alice_api.post(f"/api/v1/models/{version_id}/evaluation/")
    assert evaluate.status_code == 409 and "does not read" in evaluate.json()["detail"]
    for refused in ("bundle/", "export/onnx/"):
        answer = alice_api.get(f"/api/v1/models/{version_id}/{refused}")
        assert answer.status_code == 409 and "does not read" in answer.json()["detail"]
    page = browser_for(job.owner).get(f"/models/{version_id}/")
    assert page.status_code == 200 and b"does not read" in page.content


def test_out_of_time_it_hands_out_no_more_and_the_reconcilers_runner_closes_it(alice_api):
    import datetime as dt

    from django.utils import timezone

    job = started(alice_api, n_trials=50, timeout_s=60)
    first, long = ask(alice_api, job), ask(alice_api, job)
    call(alice_api, job, first, "tell", value=0.7)
    Job.objects.filter(id=job.id).update(started_at=timezone.now() - dt.timedelta(hours=1))
    assert ask(alice_api, job)["status"] == "wait", "no new trial; the long one still runs"
    answer = call(alice_api, job, long, "report", step=0, value=0.9)
    assert answer == {"should_prune": True}, "the time limit reaches inside a trial"
    call(alice_api, job, long, "tell", state="pruned")
    assert ask(alice_api, job)["status"] == "done"
    tasks.run_trials(job.id, 0)  # what the reconciler sends a job nobody calls any more
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["n_complete"] == 1
    assert job.result["n_pruned"] == 1
