"""Real workers, a Redis server of our own that a test may restart or flush, and Postgres
connections a test may cut.

The shared Redis (CELERY_BROKER_URL) is never restarted or flushed here: the tests that do
that to a broker start their own `redis-server` on a free port, in a temporary folder.
"""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from automl.celery import app as celery_app
from tests.support.servers import free_port


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
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
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
            celery_app.send_task("automl.run_job", args=[job_id], queue="cpu", connection=conn)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()
