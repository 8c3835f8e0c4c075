"""Real workers, a Redis server of our own that a test may restart or flush, and Postgres
connections a test may cut.

The shared Redis (CELERY_BROKER_URL) is never restarted or flushed here: the tests that do
that to a broker start their own `redis-server` on a free port, in a temporary folder.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from django.db import connections

from automl.celery import app as celery_app
from tests.e2e.conftest import Api, database_url

ROOT = Path(__file__).resolve().parents[2]
WORKER_APP = "faults-worker"  # the application_name of the workers' Postgres connections


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server only this test uses, without persistence: a restart loses every
    message, the worst case for the platform."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def flush(self) -> None:
        redis.Redis.from_url(self.url).flushdb()

    def send_job(self, job_id: int) -> None:
        """Deliver run_job through this server, as the web process does through its own."""
        with celery_app.connection_for_write(self.url) as conn:
            celery_app.send_task("automl.run_job", args=[job_id], queue="cpu",
                                 connection=conn)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


class Workers:
    """`celery worker` processes, each in its own process group; extra celery arguments
    (e.g. -B for the scheduler) and environment per worker."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str = "w1", *args: str, **env: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "a")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "automl", "worker", "-Q", "cpu", "-c", "1",
             "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "--loglevel", "INFO",
             *args],
            env={**os.environ, "DATABASE_URL": f"{database_url()}?application_name={WORKER_APP}",
                 "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", **env},
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs[name] = proc
        return proc

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
    # Live-server threads must not keep connections open past the test, or the test
    # database cannot be dropped.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")  # nothing left over from an earlier run
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def api(live_server, django_user_model) -> Api:
    django_user_model.objects.create_user("analyst", password="analyst-password-1")
    response = requests.post(
        live_server.url + "/api/v1/auth/token/",
        json={"username": "analyst", "password": "analyst-password-1"}, timeout=10,
    )
    assert response.status_code == 200, response.text
    return Api(live_server.url, response.json()["token"])


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
