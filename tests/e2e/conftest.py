"""Real worker processes on real Redis and Postgres, and a REST client with a token."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection, connections

from automl.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database (pytest-django's), which worker processes must write to."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


# The application_name of the workers' Postgres connections (a test may cut them).
WORKER_APP = "automl-test-worker"


class Workers:
    """`celery worker` processes, each in its own process group; extra celery arguments
    (e.g. -B for the scheduler) and environment per worker."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str = "w1", *args: str, **env: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "a")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "automl",
                "worker",
                "-Q",
                "cpu",
                "-c",
                "1",
                "-n",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
                *args,
            ],
            env={
                **os.environ,
                "DATABASE_URL": f"{database_url()}?application_name={WORKER_APP}",
                "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
                **env,
            },
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def wait_ready(self, *names: str, timeout_s: float = 120) -> None:
        """Until every named worker answers a ping: a test that needs several workers to
        share a job must not submit it while one is still importing (under load, the first
        could finish the whole job alone)."""
        wanted = {f"{name}@{socket.gethostname()}" for name in names}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            replies = celery_app.control.ping(destination=list(wanted), timeout=1)
            if wanted <= {host for reply in replies for host in reply}:
                return
        pytest.fail(f"workers {sorted(wanted)} never answered a ping")

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its children, as when a machine dies."""
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in sorted(self.log_dir.glob("*.log")):
            # The timeline (one line per event), then the end with any traceback.
            text = log.read_text()
            events = [line for line in text.splitlines() if line.startswith("[")]
            print(f"--- {log.name}\n" + "\n".join(events[-60:]) + f"\n...\n{text[-2000:]}")


@pytest.fixture
def workers(real_services, live_server, tmp_path, monkeypatch):
    # The live server's request threads must not keep connections open past the test,
    # or the test database cannot be dropped at the end.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")  # nothing left over from an earlier run
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


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

    def wait_finished(self, job_id: int, timeout_s: float = 180) -> dict:
        done = ("succeeded", "failed", "cancelled")
        return self.wait(job_id, lambda job: job["status"] in done, timeout_s)

    def all_trials(self, job_id: int) -> list[dict]:
        return self.get(f"/api/v1/jobs/{job_id}/trials/?page_size=1000")["results"]

    def dataset_id(self, builtin_name: str) -> int:
        datasets = self.get("/api/v1/datasets/?page_size=1000")["results"]
        return next(d["id"] for d in datasets if d["builtin_name"] == builtin_name)


@pytest.fixture
def api(live_server, django_user_model) -> Api:
    django_user_model.objects.create_user("analyst", password="analyst-password-1")
    response = requests.post(
        live_server.url + "/api/v1/auth/token/",
        json={"username": "analyst", "password": "analyst-password-1"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return Api(live_server.url, response.json()["token"])
