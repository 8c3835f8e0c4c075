"""The README's first command, `./run up`, on the embedded defaults (SQLite + filesystem queue).

It runs in its own process group with a fresh var/ folder and no service URLs, as on a
laptop, and must take a job over REST from submission to success.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def platform_up(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY")
    }
    env.update(
        AUTOML_VAR_DIR=str(tmp_path / "var"),
        AUTOML_VENV=sys.prefix,
        PORT=str(port),
        ADMIN_PASSWORD="quickstart-password-1",
        WEB_WORKERS="1",
    )
    log = open(tmp_path / "up.log", "w")
    proc = subprocess.Popen(
        [str(ROOT / "run"), "up"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(url + "/readyz", timeout=10).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.5)
    yield url, proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    output = (tmp_path / "up.log").read_text()
    print(output[-3000:])
    assert "unbound variable" not in output
    worker_pid = int(output.split("Worker started (pid ")[1].split(",")[0])
    # The worker stops with the web server (a warm shutdown may take a few seconds).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the worker (pid {worker_pid}) still runs after ./run up stopped")


def test_run_up_serves_the_platform_and_runs_a_job(platform_up, tmp_path):
    url, proc = platform_up
    assert proc.poll() is None, "./run up exited early"
    ready = requests.get(url + "/readyz", timeout=5).json()
    assert ready["checks"] == {"database": "ok", "broker": "ok"}
    assert (tmp_path / "var" / "db.sqlite3").exists()

    token = requests.post(
        url + "/api/v1/auth/token/",
        timeout=5,
        data={"username": "admin", "password": "quickstart-password-1"},
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Token {token.json()['token']}"}
    datasets = requests.get(url + "/api/v1/datasets/", headers=headers, timeout=5).json()
    iris = next(d["id"] for d in datasets["results"] if d["builtin_name"] == "iris")
    submitted = requests.post(
        url + "/api/v1/jobs/",
        headers=headers,
        timeout=5,
        json={
            "kind": "hpo",
            "dataset": iris,
            "config": {
                "model": "logistic_regression",
                "n_trials": 3,
                "sampler": "random",
                "parallelism": 2,
            },
        },
    )
    assert submitted.status_code == 201, submitted.text

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = requests.get(
            f"{url}/api/v1/jobs/{submitted.json()['id']}/", headers=headers, timeout=5
        ).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    assert job["result"]["n_complete"] == 3
