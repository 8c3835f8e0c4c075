"""The platform against FLAML and AutoGluon: same tables, same budgets, same held-out rows.

    .venv/bin/python bench/peers.py [--budgets 20 60] [--peers-python /tmp/bench-venv/bin/python]

Tables: scikit-learn's bundled breast cancer, wine, digits and diabetes, and two generated
ones (make_classification, make_friedman1). Each is cut once into search rows and held-out
test rows (workers.data.splits.held_out_rows, test_size 0.2, seed 0: the function and
arguments the platform's HPO job holds its test rows out with, so all three tools are
scored on the same rows). Score: accuracy (classification) or r2 (regression) on them.

platform:  the table uploaded as an .npz, then POST /api/v1/jobs/ with
           {"preset": "balanced", "time_budget_s": B} (3-fold cv, seven families, an
           ensemble), to a real web server and one real Celery worker (`./run up`);
           seconds from the POST until the job reads succeeded. Its score is the held-out
           score of the model it registered (the ensemble or the single best).
flaml:     AutoML.fit(time_budget=B) on the search rows, in the peers' venv.
autogluon: TabularPredictor(presets="medium_quality").fit(time_limit=B), same venv.
Peers come from requirements-bench.txt in a separate venv (--peers-python); a peer not
installed there is skipped with a note.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from sklearn import datasets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.platform_server import running, wait_for_job  # noqa: E402
from workers.data.splits import held_out_rows  # noqa: E402

TEST_SIZE, SEED = 0.2, 0
PEERS = ("flaml", "autogluon")


def tables() -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """name -> (task, X, y)."""
    cancer, wine, digits, diabetes = (
        datasets.load_breast_cancer(),
        datasets.load_wine(),
        datasets.load_digits(),
        datasets.load_diabetes(),
    )
    X_gen, y_gen = datasets.make_classification(
        3000, 20, n_informative=8, n_redundant=4, flip_y=0.03, random_state=0
    )
    X_fr, y_fr = datasets.make_friedman1(2000, 10, noise=1.0, random_state=0)
    return {
        "breast_cancer": ("classification", cancer.data, cancer.target),
        "wine": ("classification", wine.data, wine.target),
        "digits": ("classification", digits.data, digits.target),
        "generated_clf": ("classification", X_gen, y_gen),
        "diabetes": ("regression", diabetes.data, diabetes.target),
        "friedman1": ("regression", X_fr, y_fr),
    }


def platform_score(url: str, headers: dict, name: str, task: str, X, y, budget: float):
    buffer = io.BytesIO()
    np.savez(buffer, X=X.astype(np.float64), y=y)
    upload = requests.post(
        url + "/api/v1/datasets/",
        headers=headers,
        files={"file": (f"{name}.npz", buffer.getvalue())},
        data={"name": name, "task": task},
        timeout=60,
    )
    assert upload.status_code == 201, upload.text
    body = {
        "kind": "hpo",
        "name": f"{name}-{budget:g}s",
        "dataset": upload.json()["id"],
        "config": {"preset": "balanced", "time_budget_s": budget, "test_size": TEST_SIZE},
    }
    started = time.monotonic()
    job = requests.post(url + "/api/v1/jobs/", json=body, headers=headers, timeout=30)
    assert job.status_code == 201, job.text
    state = wait_for_job(url, headers, job.json()["id"], poll_s=0.5)
    seconds = time.monotonic() - started
    if state["status"] != "succeeded":
        return {"skipped": f"job {state['status']}: {state.get('error_message', '')[:200]}"}
    result = state["result"]
    idle(url, headers, result["refit"].get("model_version"))
    metric = "accuracy" if task == "classification" else "r2"
    found = result.get("ensemble") or {}
    chosen = found.get("chosen") == "ensemble"
    metrics = found["test_metrics"] if chosen else result["refit"]["test_metrics"]
    return {"score": metrics[metric], "seconds": seconds, "ensemble": chosen}


def warm_up(url: str, headers: dict) -> None:
    """A one-trial job on the built-in iris: the worker imports its libraries once, as
    any job after the first finds it (each peer starts in a fresh process, imports
    included in its seconds: a small handicap against them)."""
    found = requests.get(url + "/api/v1/datasets/", headers=headers, timeout=10).json()
    iris = next(d["id"] for d in found["results"] if d["builtin_name"] == "iris")
    body = {"kind": "hpo", "dataset": iris, "config": {"n_trials": 1}}
    job = requests.post(url + "/api/v1/jobs/", json=body, headers=headers, timeout=30)
    state = wait_for_job(url, headers, job.json()["id"], poll_s=0.5)
    idle(url, headers, state["result"]["refit"]["model_version"])


def idle(url: str, headers: dict, version: int | None) -> None:
    """Wait for the evaluation report the worker makes of each registered model: it is
    not the job's work, and must neither delay the next job nor run beside a peer."""
    deadline = time.monotonic() + 300
    while version and time.monotonic() < deadline:
        report = requests.get(
            f"{url}/api/v1/models/{version}/evaluation/", headers=headers, timeout=10
        ).json()
        if report.get("status") not in ("queued", "running", None):
            return
        time.sleep(0.5)


def peer_score(python: str, tool: str, path: Path, budget: float) -> dict:
    if not Path(python).exists():
        return {"skipped": f"no peers' venv at {python}"}
    out = subprocess.run(
        [python, str(ROOT / "bench" / "peer_run.py"), tool, str(path), str(budget)],
        capture_output=True,
        text=True,
        timeout=budget * 5 + 300,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"skipped": f"{tool} failed: {out.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[20, 60])
    parser.add_argument("--peers-python", default="/tmp/bench-venv/bin/python")
    parser.add_argument("--tables", nargs="*", help="a subset of the tables, by name")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="automl-peers-"))
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["AUTOML_VAR_DIR"] = str(var)
    env["EVALUATION_RESAMPLES"] = "200"  # the untimed report after each job: shorter
    chosen = {k: v for k, v in tables().items() if not args.tables or k in args.tables}
    results = []  # (budget, table, tool, outcome)
    try:
        with running(env) as (url, headers):
            warm_up(url, headers)
            for budget in args.budgets:
                for name, (task, X, y) in chosen.items():
                    kept, held = held_out_rows(
                        y, TEST_SIZE, SEED, stratify=task == "classification"
                    )
                    path = var / f"{name}.npz"
                    np.savez(
                        path,
                        X_train=X[kept],
                        y_train=y[kept],
                        X_test=X[held],
                        y_test=y[held],
                        task=np.asarray(task),
                    )
                    outcomes = {"platform": platform_score(url, headers, name, task, X, y, budget)}
                    for tool in PEERS:
                        outcomes[tool] = peer_score(args.peers_python, tool, path, budget)
                    for tool, outcome in outcomes.items():
                        results.append((budget, name, task, tool, outcome))
                        print(budget, name, tool, outcome, file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(var, ignore_errors=True)
    report(results)


def report(results: list) -> None:
    """The table: per budget and table, each tool's held-out score, seconds and rank."""
    print("score: accuracy (classification) or r2 (regression) on the same held-out 20%\n")
    print(f"{'budget':>6}  {'table':<14}{'tool':<11}{'score':>7}{'seconds':>9}{'rank':>6}")
    notes = set()
    keys = dict.fromkeys((b, n) for b, n, *_ in results)
    for budget, name in keys:
        rows = [(tool, o) for b, n, _, tool, o in results if (b, n) == (budget, name)]
        scored = sorted({o["score"] for _, o in rows if "score" in o}, reverse=True)
        for tool, outcome in rows:
            if "score" not in outcome:
                notes.add(f"{tool}: {outcome['skipped']}")
                print(f"{budget:>6g}  {name:<14}{tool:<11}{'-':>7}{'-':>9}{'-':>6}")
                continue
            rank = scored.index(outcome["score"]) + 1  # ties share a rank
            mark = "*" if outcome.get("ensemble") else ""
            print(
                f"{budget:>6g}  {name:<14}{tool:<11}{outcome['score']:>7.4f}"
                f"{outcome['seconds']:>9.1f}{rank:>5}{mark:1}"
            )
    wins = {}
    for budget, name in keys:
        rows = [(tool, o) for b, n, _, tool, o in results if (b, n) == (budget, name)]
        best = max((o["score"] for _, o in rows if "score" in o), default=None)
        platform = next(o for tool, o in rows if tool == "platform")
        if best is not None:  # a platform job that failed counts as a loss
            wins.setdefault(budget, [0, 0])
            wins[budget][0] += platform.get("score", -np.inf) >= best
            wins[budget][1] += 1
    print("\n* the platform registered its ensemble")
    for budget, (won, total) in wins.items():
        print(f"budget {budget:g} s: the platform won or tied on {won} of {total} tables")
    for note in sorted(notes):
        print(f"skipped: {note}")


if __name__ == "__main__":
    main()
