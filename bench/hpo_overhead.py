"""Platform vs bare Optuna: the same objective, sampler and storage, N trials.

    .venv/bin/python bench/hpo_overhead.py [--trials 200]

With DATABASE_URL (Postgres) and CELERY_BROKER_URL (Redis) set it measures the production
path (RDBStorage on Postgres, Redis queue); with neither set, the embedded one (SQLite,
filesystem queue, an Optuna journal file). Each run gets a scratch database / var folder.

bare:     optuna.create_study(storage=...).optimize(objective, n_trials=N) in this process,
          objective = logistic regression on iris (one holdout split), random sampler.
platform: POST /api/v1/jobs/ to a real web server, one real Celery worker runs the same
          model, sampler and storage kind; timed from the POST until the job reads
          succeeded (so it includes queueing, every trial's database writes, the fANOVA
          importances and the refit), after a one-trial job has warmed the worker up.
The target (TARGETS.md) is a ratio <= 1.10 and <= 10 ms of orchestration per trial.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import optuna
import requests
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.platform_server import running, wait_for_job  # noqa: E402
from workers.data.builtin import load_builtin  # noqa: E402
from workers.data.splits import holdout_split  # noqa: E402


def scratch_database(base_url: str | None) -> str | None:
    """A fresh Postgres database beside the one DATABASE_URL names, or None for SQLite."""
    if not base_url:
        return None
    name = f"automl_bench_{os.getpid()}"
    admin = base_url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    return base_url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str | None) -> None:
    if not url:
        return
    import psycopg

    admin = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def bare_optuna(trials: int, storage: str) -> float:
    data = load_builtin("iris")
    split = holdout_split(data, 0.25, 0)

    def objective(trial: optuna.Trial) -> float:
        c = trial.suggest_float("C", 1e-3, 1e3, log=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
        model.fit(split.X_train, split.y_train)
        return float((model.predict(split.X_valid) == split.y_valid).mean())

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - started


def platform_run(trials: int, env: dict) -> float:
    with running(env) as (url, headers):
        iris = next(
            d["id"]
            for d in requests.get(url + "/api/v1/datasets/", headers=headers, timeout=5).json()[
                "results"
            ]
            if d["builtin_name"] == "iris"
        )

        def submit_and_wait(n_trials: int) -> float:
            body = {
                "kind": "hpo",
                "dataset": iris,
                "config": {
                    "model": "logistic_regression",
                    "n_trials": n_trials,
                    "sampler": {"name": "random", "seed": 0},
                    "validation": {"method": "holdout", "test_size": 0.25},
                },
            }
            started = time.perf_counter()
            job = requests.post(url + "/api/v1/jobs/", json=body, headers=headers, timeout=10)
            assert job.status_code == 201, job.text
            state = wait_for_job(url, headers, job.json()["id"])
            assert state["status"] == "succeeded", state
            return time.perf_counter() - started, state

        # A first one-trial job warms the worker (imports, connections), as any job after
        # the first finds it; bare Optuna below runs in an already-warm process too. Its
        # model's evaluation report, queued when it succeeded, must be done before the
        # timed job starts, or the timed job waits for the worker it occupies.
        _, warm = submit_and_wait(1)
        version = warm["result"]["refit"]["model_version"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and requests.get(
            f"{url}/api/v1/models/{version}/evaluation/", headers=headers, timeout=10
        ).json().get("status") in ("queued", "running", None):
            time.sleep(0.1)
        return submit_and_wait(trials)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="automl-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["AUTOML_VAR_DIR"] = str(var)
    database = scratch_database(os.environ.get("DATABASE_URL"))
    if database:
        env["DATABASE_URL"] = database
        storage = database.replace("postgres://", "postgresql+psycopg://")
        mode = "Postgres + Redis"
    else:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(var / "bare.journal"))
        )
        mode = "embedded (SQLite + filesystem queue + journal file)"

    try:
        bare = bare_optuna(args.trials, storage)
        platform = platform_run(args.trials, env)
    finally:
        shutil.rmtree(var, ignore_errors=True)
        drop_database(database)

    print(f"{args.trials} trials, logistic regression on iris, random sampler; {mode}\n")
    print(f"{'run':<12}{'seconds':>10}{'ms/trial':>10}{'ratio':>8}")
    print(f"{'bare optuna':<12}{bare:>10.2f}{1000 * bare / args.trials:>10.1f}{1:>8.2f}")
    print(
        f"{'platform':<12}{platform:>10.2f}{1000 * platform / args.trials:>10.1f}"
        f"{platform / bare:>8.2f}"
    )
    print(f"\norchestration per trial: {1000 * (platform - bare) / args.trials:.1f} ms")


if __name__ == "__main__":
    main()
