"""The predict endpoint over loopback vs the same model called in process.

    .venv/bin/python bench/serving.py [--requests 1000] [--model forest|mlp]
        [--max-batch-rows 64] [--max-wait-ms 2]

A real web server (gunicorn, 1 process x 8 threads) on a scratch SQLite database (or on
Postgres and Redis when DATABASE_URL / REDIS_URL are set), one registered iris model and
three deployments of it: one with the result cache off (every request runs the model), one
with it on (the same input every time, so every request after the first is a hit), and one
with the cache off and dynamic batching on (max_batch_rows 64, max_wait_ms 2 unless told).
Each request is one row, JSON named features, a token, keep-alive (http.client), and is logged.

in-process: LoadedModel.predict on the same row, as the endpoint calls it.
rest miss / hit: sequential requests, one client thread.
rest miss c=8: eight client threads at once; throughput only.
rest miss c=8, batching on: the same on the batching deployment; its ratio column is
against batching off at c=8. rest miss, batching on: one client alone, so each request
waits out max_wait_ms for company that never comes (the price of batching when idle).
The targets (TARGETS.md): <= +2 ms at p50 over in-process; batching >= 2x at c=8.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_up(model: str, workdir: Path, batching: dict) -> dict:
    """Migrate, make a user, a model version and two deployments; return their ids."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from automl.registry.models import ModelVersion
    from automl.registry.services import create_version
    from automl.serving.traffic import create_deployment

    sys.path.insert(0, str(ROOT))
    from tests.support.factories import forest_dir, mlp_dir

    user = User.objects.create_user("bench", password="bench-password-1")
    make = forest_dir if model == "forest" else mlp_dir
    kwargs = {"n_estimators": 50} if model == "forest" else {}
    version = create_version(
        user, make(workdir / "model", **kwargs), name="bench", source=ModelVersion.Source.IMPORT
    )
    routes = [{"version": version.id, "weight": 1}]
    miss = create_deployment(user, name="miss", model_name="bench", routes=routes, cache_ttl_s=0)
    hit = create_deployment(user, name="hit", model_name="bench", routes=routes, cache_ttl_s=3600)
    batched = create_deployment(
        user, name="batched", model_name="bench", routes=routes, cache_ttl_s=0, batching=batching
    )
    return {
        "token": Token.objects.create(user=user).key,
        "version": version,
        "miss": miss.id,
        "hit": hit.id,
        "batched": batched.id,
    }


def timed(call, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--model", choices=["forest", "mlp"], default="forest")
    parser.add_argument("--max-batch-rows", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=2)
    args = parser.parse_args()
    batching = {"max_batch_rows": args.max_batch_rows, "max_wait_ms": args.max_wait_ms}
    n = args.requests

    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    env = {
        **os.environ,
        "AUTOML_VAR_DIR": str(workdir / "var"),
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "automl.settings",
        "SERVING_LOG_PRUNE_EVERY": "1000000",
    }
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    ids = set_up(args.model, workdir, batching)

    from automl.serving.loader import load
    from tests.support.factories import FEATURES, iris_xy

    X, _ = iris_xy()
    rng = np.random.default_rng(0)
    rows = [
        dict(zip(FEATURES, map(float, X[i % len(X)] + rng.normal(0, 0.01, 4)), strict=True))
        for i in range(n)
    ]
    arrays = [np.array([[r[f] for f in FEATURES]]) for r in rows]

    loaded = load(ids["version"])
    loaded.predict(arrays[0])
    in_process = timed(lambda i: loaded.predict(arrays[i]), n)

    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "automl.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
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
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/healthz", timeout=30)
                break
            except requests.RequestException:
                time.sleep(0.2)
        headers = {"Authorization": f"Token {ids['token']}", "Content-Type": "application/json"}
        # http.client on one kept-alive connection: the client's own cost stays small, so
        # the numbers are the server's.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def post(
            deployment: int, row: dict, conn: http.client.HTTPConnection = connection
        ) -> None:
            conn.request(
                "POST",
                f"/api/v1/deployments/{deployment}/predict/",
                body=json.dumps({"inputs": [row]}),
                headers=headers,
            )
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, body

        for i in range(20):  # warm up: model loaded, connections open
            post(ids["miss"], rows[i])
            post(ids["hit"], rows[0])
            post(ids["batched"], rows[i])
        miss = timed(lambda i: post(ids["miss"], rows[i]), n)
        hit = timed(lambda i: post(ids["hit"], rows[0]), n)
        batched_alone = timed(lambda i: post(ids["batched"], rows[i]), n)

        def concurrently(deployment: int) -> float:
            def client(k: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                for i in range(k, n, 8):
                    post(deployment, rows[i], conn)
                conn.close()

            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(client, range(8)))
            return n / (time.perf_counter() - start)

        concurrent_rps = concurrently(ids["miss"])
        batched_rps = concurrently(ids["batched"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    base_p50 = statistics.median(in_process)
    base_rps = n / (sum(in_process) / 1000)
    db = "Postgres" if os.environ.get("DATABASE_URL") else "SQLite"
    cache = "Redis" if os.environ.get("REDIS_URL") else "in-process memory"
    print(
        f"{args.model} on iris, {n} requests of one row; {db}, result cache in {cache}; "
        f"batching {batching}\n"
    )
    runs = (
        ("in-process", in_process),
        ("rest miss", miss),
        ("rest hit", hit),
        ("rest miss, batching on", batched_alone),
    )
    print(f"{'run':<28}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>9}{'+p50 ms':>9}{'rps ratio':>11}")
    for name, times in runs:
        p50, rps = statistics.median(times), n / (sum(times) / 1000)
        print(
            f"{name:<28}{p50:8.3f}{percentile(times, 99):8.3f}{rps:9.0f}"
            f"{p50 - base_p50:9.3f}{rps / base_rps:11.3f}"
        )
    print(
        f"{'rest miss c=8':<28}{'':>8}{'':>8}{concurrent_rps:9.0f}{'':>9}"
        f"{concurrent_rps / base_rps:11.3f}"
    )
    print(
        f"{'rest miss c=8, batching on':<28}{'':>8}{'':>8}{batched_rps:9.0f}{'':>9}"
        f"{batched_rps / concurrent_rps:11.3f}  (vs batching off at c=8)"
    )


if __name__ == "__main__":
    main()
