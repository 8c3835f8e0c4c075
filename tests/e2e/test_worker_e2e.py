"""A real `celery worker` process on real Redis and Postgres, driven over REST with a token.

No eager mode: the job goes web → Redis → worker process → Postgres, as in production.
"""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from automl.celery import app as celery_app
from automl.datasets.models import Dataset
from automl.jobs.models import Job, Trial

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def database_url() -> str:
    """The test database (pytest-django's), which the worker process must write to."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(real_services, live_server, tmp_path, monkeypatch):
    # The live server's request threads must not keep connections open past the test,
    # or the test database cannot be dropped at the end.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")  # nothing left over from an earlier run
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "JOB_STALE_AFTER_S": "60",
    }
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "automl", "worker", "-Q", "cpu", "-c", "1",
         "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    print((tmp_path / "worker.log").read_text()[-3000:])


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def get(self, path: str) -> dict:
        response = self.session.get(self.base + path, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict | None = None, expect: int = 201) -> dict:
        response = self.session.post(self.base + path, json=body, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    def wait(self, job_id: int, until, timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/jobs/{job_id}/")
            if until(job):
                return job
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s}s: {job}")


@pytest.fixture
def api(live_server, django_user_model) -> Api:
    django_user_model.objects.create_user("analyst", password="analyst-password-1")
    response = requests.post(
        live_server.url + "/api/v1/auth/token/",
        json={"username": "analyst", "password": "analyst-password-1"}, timeout=10,
    )
    assert response.status_code == 200, response.text
    assert Token.objects.filter(key=response.json()["token"]).exists()
    return Api(live_server.url, response.json()["token"])


def iris_id(api: Api) -> int:
    datasets = api.get("/api/v1/datasets/")["results"]
    return next(d["id"] for d in datasets if d["builtin_name"] == "iris")


def finished(job: dict) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")


@pytest.mark.parametrize("config", [
    {"model": "random_forest", "n_trials": 6, "sampler": {"name": "tpe", "seed": 0}},
    {"model": "mlp", "n_trials": 3, "sampler": {"name": "tpe", "seed": 0},
     "search_space": {"lr": {"type": "float", "low": 0.01, "high": 0.1, "log": True}}},
], ids=["random_forest", "torch_mlp"])
def test_an_hpo_job_runs_end_to_end(worker, api, config):
    job = api.post("/api/v1/jobs/", {"kind": "hpo", "dataset": iris_id(api), "config": config})
    assert job["status"] == "queued"

    job = api.wait(job["id"], finished)

    assert job["status"] == "succeeded", job["error_message"]
    assert job["progress"] == 1.0
    trials = api.get(f"/api/v1/jobs/{job['id']}/trials/")
    assert trials["count"] == config["n_trials"]
    assert all(t["state"] == "complete" for t in trials["results"])
    assert job["result"]["best_value"] > 0.9
    assert max(t["values"][0] for t in trials["results"]) == job["result"]["best_value"]
    # The worker imported the standard-library platform module, not our folder.
    assert Job.objects.get(id=job["id"]).worker_info["system"] == platform.system()


def test_a_running_job_is_cancelled_and_keeps_its_finished_trials(worker, api):
    config = {"model": "random_forest", "n_trials": 500, "sampler": {"name": "random", "seed": 0}}
    job = api.post("/api/v1/jobs/", {"kind": "hpo", "dataset": iris_id(api), "config": config})
    api.wait(job["id"], lambda j: j["status"] == "running" and j["progress"] >= 2 / 500)

    api.post(f"/api/v1/jobs/{job['id']}/cancel/", expect=202)
    job = api.wait(job["id"], finished)

    assert job["status"] == "cancelled"
    kept = Trial.objects.filter(job_id=job["id"])
    assert 2 <= kept.count() < 500
    assert set(kept.values_list("state", flat=True)) == {"complete"}
    assert job["result"]["n_complete"] == kept.count()
    assert Dataset.objects.filter(builtin_name="iris").exists()
