"""The platform (web server and one worker, as `./run up` starts them) in a scratch var
folder, for the benchmarks that time it through its REST API."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(env: dict) -> Iterator[tuple[str, dict]]:
    """(base url, auth headers of the admin) while the platform runs with env; its log is
    printed when the body fails. env["AUTOML_VAR_DIR"] is where it keeps its files."""
    port = free_port()
    env = {**env, "ADMIN_PASSWORD": PASSWORD}
    var = Path(env["AUTOML_VAR_DIR"])
    log_path = var / "up.log"
    log = open(log_path, "w")
    # What `./run up` starts, without its install step: that would install this checkout
    # into the venv, and a benchmark measures the checkout it runs from (PYTHONPATH).
    python = sys.executable
    for command in ("migrate", "ensure_admin"):
        subprocess.run([python, "manage.py", command], env=env, cwd=ROOT, stdout=log, check=True)
    commands = [
        [
            python,
            "-m",
            "celery",
            "-A",
            "automl",
            "worker",
            "-Q",
            "cpu",
            "--concurrency",
            "1",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        [
            python,
            "-m",
            "gunicorn",
            "automl.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--preload",
            "--no-control-socket",
        ],
    ]
    procs = [
        subprocess.Popen(
            c, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        for c in commands
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(url + "/readyz", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        token = requests.post(
            url + "/api/v1/auth/token/",
            timeout=5,
            data={"username": "admin", "password": PASSWORD},
        ).json()["token"]
        yield url, {"Authorization": f"Token {token}"}
    except BaseException:
        log.flush()
        print(log_path.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for_job(url: str, headers: dict, job_id: int, poll_s: float = 0.05) -> dict:
    """The job's detail once it has ended."""
    while True:
        state = requests.get(f"{url}/api/v1/jobs/{job_id}/", headers=headers, timeout=10).json()
        if state["status"] not in ("queued", "running"):
            return state
        time.sleep(poll_s)
