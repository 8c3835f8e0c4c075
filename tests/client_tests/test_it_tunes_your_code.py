"""External trials against a real server and a real worker (Postgres, Redis): two processes
of a user's script ask for trials at once, the study's pruner stops one trial, one process
is killed mid-trial and its trial is failed as lost and handed out again; then `automl tune`
runs the example script per trial of the example job file."""

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from automl_client import Client
from workers.studies.heartbeat import LOST

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# A user's script: it waits for "go" on stdin so both copies ask at once. The "stuck" copy
# then hangs inside its first trial (until it is killed); the other runs trials whose
# values get worse with each number, so once one completes the median pruner stops the next.
SCRIPT = """
import sys
import zipfile
from automl_client import Client

client = Client(progress=False)
job = client.jobs.get(int(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
for trial in job.trials_to_run():
    print("started", trial.number, flush=True)
    if sys.argv[2] == "stuck":
        sys.stdin.readline()  # never answered: the process is killed here, mid-trial
    for step in range(3):
        if trial.report(step, -trial.number - step / 10):
            trial.prune()
            break
    else:
        trial.tell(-trial.number)
"""

CONFIG = {
    "search_space": {"lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}},
    "metric": "score",
    "direction": "maximize",
    "n_trials": 4,
    "sampler": {"name": "random", "seed": 0},
    "pruner": {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
    "lost_after_s": 3,
}


def start(script: Path, job_id: int, role: str, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(script), str(job_id), role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def test_two_processes_share_a_study_with_a_pruned_and_a_lost_trial(
    live_server, workers, analyst, tmp_path
):
    workers.start()
    client = Client.login(live_server.url, "analyst", "analyst-password-1", progress=False)
    env = {**os.environ, "AUTOML_URL": client.url, "AUTOML_TOKEN": client.token}
    job = client.jobs.submit("external", None, CONFIG, name="my script")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)

    stuck, steady = start(script, job.id, "stuck", env), start(script, job.id, "steady", env)
    for process in (stuck, steady):  # both ask at once
        process.stdin.write("go\n")
        process.stdin.flush()
    started, number = stuck.stdout.readline().split()
    assert started == "started"
    stuck.send_signal(signal.SIGKILL)  # mid-trial: its heartbeat thread dies with it
    stuck.wait()
    steady.stdin.close()
    assert steady.wait(timeout=300) == 0, "it ran until the budget was done"

    done = client.jobs.wait(job.id, timeout_s=300)
    assert done.status == "succeeded", done.error_message
    trials = {t.number: t for t in done.trials()}
    lost = trials[int(number)]
    assert lost.state == "failed" and lost.error == LOST
    assert max(trials) > int(number), "a trial was handed out in its place"
    states = [t.state for t in trials.values()]
    assert states.count("pruned") >= 1 and states.count("complete") >= 1
    assert states.count("complete") + states.count("pruned") == CONFIG["n_trials"]
    assert len({t.worker for t in trials.values()}) == 2, "two processes ran trials"
    pruned = next(t for t in trials.values() if t.state == "pruned")
    assert (
        pruned.value == pruned.intermediate_values[str(max(map(int, pruned.intermediate_values)))]
    )
    assert done.result["best_value"] == max(
        t.value for t in trials.values() if t.state == "complete"
    )
    assert done.result["n_failed"] == 1

    # `automl tune`: the example job file, the example script run once per trial, two at once
    program = Path(sys.executable).with_name("automl")
    tuned = subprocess.run(
        [program, "--json", "tune", EXAMPLES / "external.yaml", "--set", "config.n_trials=2"]
        + ["--parallel", "2", "--", sys.executable, EXAMPLES / "train.py"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    summary = json.loads(tuned.stdout)
    assert "[trial 0]" in tuned.stderr, "each run's output, marked with its trial"
    assert summary["status"] == "succeeded" and summary["kind"] == "external"
    trials = client.jobs.trials(summary["id"])
    assert sum(t.state in ("complete", "pruned") for t in trials) == 2
    assert 0.5 < summary["result"]["best_value"] <= 1.0, "a validation accuracy on digits"
    assert set(summary["result"]["best_params"]) == {"alpha", "loss"}
    # the best trial's attached weights: a version of kind external, kept and downloadable
    version = client.models.get(summary["result"]["model_version"])
    assert version.raw["framework"] == "external"
    saved = client.models.download(version.id, tmp_path)
    assert "weights.npz" in zipfile.ZipFile(saved).namelist()
