"""The CLI and the Python client against a real server and a real worker (Postgres, Redis):
an analyst logs in, uploads a messy CSV, runs each example job file, reads the trials as
CSV, deploys the model, predicts from a CSV and cancels a job."""

import csv
import io
import json
import os
import random
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from automl_client import Client, Conflict, Job, Trial, config
from automl_client.cli import cli

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLANS = ["basic", "plus", "pro"]


def churn_csv(path: Path, rows: int, seed: int = 0, target: bool = True) -> Path:
    """An analyst's export: a categorical column, missing cells, a yes/no target."""
    rng = random.Random(seed)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["tenure", "monthly_fee", "plan", "support_calls", *(["churned"] * target)]
        )
        for _ in range(rows):
            tenure = rng.randint(1, 72)
            plan = rng.choice(PLANS)
            calls = rng.randint(0, 9)
            fee = round(rng.uniform(10, 120), 2)
            churned = "yes" if calls > 5 or (tenure < 12 and plan == "basic") else "no"
            row = [
                tenure,
                "" if rng.random() < 0.1 else fee,
                "" if rng.random() < 0.1 else plan,
                calls,
            ]
            writer.writerow(row + [churned] * target)
    return path


class Cli:
    """CliRunner calls of `automl --json ...`, their output parsed."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int = 0):
        result = self.runner.invoke(cli, ["--json", *args])
        assert result.exit_code == expect, (result.output, result.stderr, result.exception)
        out = result.stdout if result.stdout.strip() else result.stderr
        return json.loads(out) if out.strip() else None


def test_it_drives_the_platform(live_server, workers, analyst, tmp_path):
    automl = Cli()
    workers.start()

    # login: the token is saved for the next commands, readable by its owner only
    automl(
        "login",
        "--url",
        live_server.url,
        "--username",
        "analyst",
        "--password",
        "analyst-password-1",
    )
    assert stat.S_IMODE(config.login_path().stat().st_mode) == 0o600
    refused = automl(
        "jobs", "submit", str(EXAMPLES / "hpo.yaml"), "--set", "config.n_trials=0", expect=1
    )
    assert refused["error"] == "invalid" and "config.n_trials" in refused["fields"]
    # model-parallel stages split torch networks only: the file searches random forests
    staged = ("--set", "config.trainer.stages=2", "--set", "resources.device=auto")
    refused = automl("jobs", "submit", str(EXAMPLES / "hpo.yaml"), *staged, expect=1)
    assert "random_forest searches none" in refused["fields"]["config.trainer.stages"][0]

    # upload: a categorical column, missing values and a string target
    data = automl(
        "datasets", "upload", str(churn_csv(tmp_path / "churn.csv", 150)), "--target", "churned"
    )
    assert (data["task"], data["target_name"], data["n_rows"]) == (
        "classification",
        "churned",
        150,
    )
    # the same rows as Parquet: the same profile
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    pq.write_table(pv.read_csv(tmp_path / "churn.csv"), tmp_path / "churn.parquet")
    parquet = automl("datasets", "upload", str(tmp_path / "churn.parquet"), "--target", "churned")
    assert (parquet["file_format"], parquet["n_rows"]) == ("parquet", 150)
    assert parquet["profile"]["columns"] == data["profile"]["columns"]

    # hpo, on the upload instead of the file's iris, waited for
    hpo = automl(
        "jobs", "submit", str(EXAMPLES / "hpo.yaml"), "--dataset", str(data["id"]), "--wait"
    )
    assert hpo["status"] == "succeeded", hpo["error_message"]
    listed = automl("jobs", "list")
    assert [j["id"] for j in listed] == [hpo["id"]]

    trials_csv = CliRunner().invoke(cli, ["jobs", "trials", str(hpo["id"]), "--csv"])
    rows = list(csv.DictReader(io.StringIO(trials_csv.stdout)))
    assert trials_csv.exit_code == 0 and len(rows) == 6
    assert {"number", "state", "param:n_estimators"} <= set(rows[0])
    board = automl("jobs", "leaderboard", str(hpo["id"]))  # one family: its best trial
    assert board["source"] == "validation" and [r["rank"] for r in board["rows"]] == [1]
    assert board["rows"][0]["name"].startswith("random_forest (trial ")

    # deploy the refit model and predict rows that have no target (and a missing cell)
    versions = automl("models", "list", "--job", str(hpo["id"]))
    assert len(versions) == 1
    deployment = automl("deploy", str(versions[0]["id"]), "--name", "churn")
    assert deployment["routes"] == [{"version": versions[0]["id"], "weight": 100.0}]
    rows_file = churn_csv(tmp_path / "rows.csv", 5, seed=1, target=False)
    answer = automl("predict", "churn", "--input", str(rows_file))
    assert answer["version"] == versions[0]["id"]
    assert len(answer["predictions"]) == 5 and set(answer["predictions"]) <= set(answer["classes"])
    saved = automl("models", "download", str(versions[0]["id"]), "-o", str(tmp_path))
    assert "spec.json" in zipfile.ZipFile(saved["path"]).namelist()

    # nas through the installed `automl` program, as a shell script runs it
    client = Client(progress=False)
    program = Path(sys.executable).with_name("automl")
    env = {**os.environ, "AUTOML_URL": client.url, "AUTOML_TOKEN": client.token}
    done = subprocess.run(
        [program, "--json", "jobs", "submit", EXAMPLES / "nas.yaml", "--wait"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    nas = json.loads(done.stdout)
    assert nas["status"] == "succeeded"
    assert client.jobs.get(nas["id"]).model_versions()

    # compression of a torch model (an MLP from the HPO example), through the Python client
    mlp = client.jobs.submit_file(
        EXAMPLES / "hpo.yaml",
        [
            "config.model=mlp",
            "config.n_trials=2",
            "config.search_space={hidden_units: {type: int, low: 8, high: 16}, "
            "epochs: {type: fixed, value: 5}}",
        ],
    ).wait()
    (mlp_model,) = mlp.model_versions()
    compression = client.jobs.submit_file(
        EXAMPLES / "compression.yaml", [f"config.model_version={mlp_model.id}"]
    ).wait()
    assert compression.status == "succeeded", compression.error_message
    assert len(compression.model_versions()) == 2  # one per step

    # the Python client's typed answers; continue and cancel
    job = client.jobs.get(hpo["id"])
    assert isinstance(job, Job) and job.finished
    trials = job.trials()
    assert all(isinstance(t, Trial) for t in trials) and len(trials) == 6
    best = max(t.value for t in trials if t.value is not None)
    assert best == job.result["best_value"]
    follow_up = job.continue_(n_trials=500)
    assert follow_up.config["warm_start"]["from_job"] == job.id
    cancelled = automl("jobs", "cancel", str(follow_up.id))
    assert cancelled["cancel_requested"] is True
    watched = automl("jobs", "watch", str(follow_up.id), expect=1)
    assert watched["status"] == "cancelled"
    with pytest.raises(Conflict):
        client.jobs.cancel(follow_up.id)
