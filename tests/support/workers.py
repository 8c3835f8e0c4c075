"""The real services and real worker processes.

Tests that need Postgres and Redis ask for `real_services`: they run when DATABASE_URL
and CELERY_BROKER_URL point at them, skip otherwise, and fail instead of skipping when
AUTOML_REQUIRE_SERVICES=1 (as in CI). `workers` starts `celery worker` processes on them.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection, connections

from automl.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_SERVICES = os.environ.get("AUTOML_REQUIRE_SERVICES") == "1"

# The application_name of the workers' Postgres connections (a test may cut them).
WORKER_APP = "automl-test-worker"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlparse(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def missing_services() -> str | None:
    database_url = os.environ.get("DATABASE_URL", "")
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "DATABASE_URL does not point at Postgres"
    if settings.BROKER_KIND not in ("redis", "rediss"):
        return "CELERY_BROKER_URL does not point at Redis"
    if not _reachable(database_url, 5432):
        return f"Postgres at {database_url} does not answer"
    if not _reachable(settings.CELERY_BROKER_URL, 6379):
        return f"Redis at {settings.CELERY_BROKER_URL} does not answer"
    return None


def skip_or_fail(reason: str | None) -> None:
    """Skip for a missing service, or fail when CI requires every service."""
    if reason and REQUIRE_SERVICES:
        pytest.fail(f"AUTOML_REQUIRE_SERVICES=1 but {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture
def real_services() -> None:
    skip_or_fail(missing_services())


def database_url() -> str:
    """The test database (pytest-django's), which worker processes must write to."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


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


def wait_for(condition, timeout_s: float, what: str):
    """Poll `condition` until it returns something true (returned), or fail the test."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
