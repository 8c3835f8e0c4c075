"""Load over loopback: concurrent job submissions and prediction requests, and no record lost.

    .venv/bin/python bench/load.py [--jobs 200] [--predictions 2000] [--concurrency 32]

A real web server (gunicorn, 2 processes x 8 threads) on the database and broker of the
environment (Postgres and Redis when DATABASE_URL / CELERY_BROKER_URL / REDIS_URL are set;
a scratch SQLite file and filesystem queue otherwise). One user submits `--jobs` HPO jobs
and sends `--predictions` one-row predictions (each row different, so none is a cache
hit) to a deployment of a small registered iris forest, `--concurrency` clients at once.

Then the records are counted: a Job row per accepted submission, a run_job message per job
the scheduler sent (no worker runs here, so every message must still be waiting; the
scheduler holds the rest queued in Postgres, automl.jobs.dispatch), and a PredictionLog
row per prediction. Any error, or any count that differs, fails the run.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass
class Phase:
    """What one phase of the load did: latencies (ms) of the answers and their errors."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def row(self) -> str:
        lat = np.asarray(self.latencies_ms or [np.nan])
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        rps = len(self.latencies_ms) / self.seconds if self.seconds else 0.0
        return (
            f"{self.name:<14}{len(self.latencies_ms):>9}{len(self.errors):>8}"
            f"{rps:>9.1f}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}"
        )


HEADER = (
    f"{'phase':<14}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
)


def hammer(name: str, calls: list, concurrency: int) -> Phase:
    """Run calls (each returns None when fine, else an error text) `concurrency` at once."""
    phase = Phase(name)
    local = {}

    def one(call) -> None:
        import threading

        session = local.setdefault(threading.get_ident(), requests.Session())
        start = time.perf_counter()
        try:
            error = call(session)
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        phase.latencies_ms.append((time.perf_counter() - start) * 1000)
        if error:
            phase.errors.append(error)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, calls))
    phase.seconds = time.perf_counter() - start
    return phase


def submissions(base: str, token: str, dataset: int, n: int) -> list:
    headers = {"Authorization": f"Token {token}"}

    def submit(i: int):
        def call(session: requests.Session) -> str | None:
            body = {
                "kind": "hpo",
                "name": f"load {i}",
                "dataset": dataset,
                "config": {"model": "logistic_regression", "n_trials": 2},
            }
            r = session.post(f"{base}/api/v1/jobs/", json=body, headers=headers, timeout=60)
            return None if r.status_code == 201 else f"{r.status_code}: {r.text[:200]}"

        return call

    return [submit(i) for i in range(n)]


def predictions(base: str, token: str, deployment: int, n: int, seed: int = 0) -> list:
    headers = {"Authorization": f"Token {token}"}
    rows = np.random.default_rng(seed).uniform(0.1, 8.0, size=(n, len(FEATURES)))

    def predict(row: np.ndarray):
        def call(session: requests.Session) -> str | None:
            body = {"inputs": [dict(zip(FEATURES, map(float, row), strict=True))]}
            r = session.post(
                f"{base}/api/v1/deployments/{deployment}/predict/",
                json=body,
                headers=headers,
                timeout=60,
            )
            return None if r.status_code == 200 else f"{r.status_code}: {r.text[:200]}"

        return call

    return [predict(row) for row in rows]


def set_up(workdir: Path, username: str = "load") -> dict:
    """A user with a token, the iris data set's id and a deployment of a small forest."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from automl.datasets.models import Dataset
    from automl.registry.models import ModelVersion
    from automl.registry.services import create_version
    from automl.serving.traffic import create_deployment
    from tests.support.factories import forest_dir

    user = User.objects.create_user(username, password="load-password-1")
    version = create_version(
        user,
        forest_dir(workdir / "model", n_estimators=20),
        name="load",
        source=ModelVersion.Source.IMPORT,
    )
    deployment = create_deployment(
        user,
        name="load",
        model_name="load",
        cache_ttl_s=0,
        routes=[{"version": version.id, "weight": 1}],
    )
    return {
        "user": user,
        "token": Token.objects.create(user=user).key,
        "dataset": Dataset.objects.get(builtin_name="iris").id,
        "deployment": deployment,
    }


def queue_depth(queue: str = "cpu") -> int:
    from automl.celery import app

    with app.connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue, passive=False).message_count


def run(base: str, setup: dict, jobs: int, n_predictions: int, concurrency: int) -> dict:
    """Both phases against a running server; the phases and the counts to compare."""
    from automl.jobs.models import Job
    from automl.serving.models import PredictionLog

    queued_before = queue_depth()
    submit = hammer(
        "submit job", submissions(base, setup["token"], setup["dataset"], jobs), concurrency
    )
    predict = hammer(
        "predict",
        predictions(base, setup["token"], setup["deployment"].id, n_predictions),
        concurrency,
    )
    counts = {
        "jobs accepted": len(submit.latencies_ms) - len(submit.errors),
        "Job rows": Job.objects.filter(owner=setup["user"]).count(),
        "jobs sent": Job.objects.filter(owner=setup["user"], dispatched_at__isnull=False).count(),
        "run_job messages": queue_depth() - queued_before,
        "predictions answered": len(predict.latencies_ms) - len(predict.errors),
        "PredictionLog rows": PredictionLog.objects.filter(deployment=setup["deployment"]).count(),
    }
    return {"phases": [submit, predict], "counts": counts}


def report(result: dict) -> list[str]:
    """Print the table; return what went wrong (empty: nothing)."""
    print(HEADER)
    for phase in result["phases"]:
        print(phase.row())
    print()
    for name, value in result["counts"].items():
        print(f"{name:<22}{value:>8}")
    c = result["counts"]
    problems = [e for phase in result["phases"] for e in phase.errors[:5]]
    if not (c["jobs accepted"] == c["Job rows"] and c["jobs sent"] == c["run_job messages"]):
        problems.append(
            f"jobs: {c['jobs accepted']} accepted, {c['Job rows']} rows, "
            f"{c['jobs sent']} sent, {c['run_job messages']} messages"
        )
    if c["predictions answered"] != c["PredictionLog rows"]:
        problems.append(
            f"predictions: {c['predictions answered']} answered, {c['PredictionLog rows']} logged"
        )
    return problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--predictions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = {
        **os.environ,
        "AUTOML_VAR_DIR": os.environ.get("AUTOML_VAR_DIR", str(workdir)),
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "automl.settings",
        "SERVING_LOG_PRUNE_EVERY": "1000000",
    }
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    setup = set_up(workdir, username=f"load-{os.getpid()}")

    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "automl.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--no-control-socket",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=30).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        result = run(base, setup, args.jobs, args.predictions, args.concurrency)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    db = "Postgres" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    broker = (
        "Redis"
        if os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
        else "filesystem queue"
    )
    print(
        f"{args.jobs} job submissions, then {args.predictions} one-row predictions; "
        f"{args.concurrency} clients at once; gunicorn 2x8 on {db}, broker {broker}\n"
    )
    problems = report(result)
    for problem in problems:
        print("PROBLEM:", problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
