"""`automl tune`: run a command once per trial of an external job, on this machine.

Each run gets its trial in the environment: AUTOML_PARAMS (the parameters as JSON),
AUTOML_PARAMS_FILE (the same JSON in a file), and what `automl_client.report()` and
`automl_client.tell()` need (AUTOML_URL, AUTOML_TOKEN, AUTOML_JOB, AUTOML_TRIAL,
AUTOML_TRIAL_TOKEN). The command says how its trial went by calling those, or by printing
its value as the last line of its output; a command that exits with an error fails its
trial (its error output is the reason). This process sends each trial's heartbeat meanwhile, and
relays the command's output to its stderr, each line marked with its trial's number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from automl_client.client import Client
from automl_client.errors import Conflict
from automl_client.trials import (
    ENV_JOB,
    ENV_PARAMS,
    ENV_PARAMS_FILE,
    ENV_TRIAL,
    ENV_TRIAL_TOKEN,
    TrialRun,
)

STDERR_TAIL = 2000  # characters of a failed command's error output kept as the reason


def run_trials(client: Client, job_id: int, command: Sequence[str], parallel: int = 1) -> None:
    """Run `command` per trial in `parallel` loops at once, until the job's budget is done."""
    loops = [
        threading.Thread(target=_loop, args=(client, job_id, command, i), daemon=True)
        for i in range(parallel)
    ]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join()


def _loop(client: Client, job_id: int, command: Sequence[str], index: int) -> None:
    worker = f"{os.uname().nodename}:{os.getpid()}/{index}"
    for trial in client.jobs.trials_to_run(job_id, worker=worker):
        _run_one(client, trial, command)


def _run_one(client: Client, trial: TrialRun, command: Sequence[str]) -> None:
    with tempfile.TemporaryDirectory(prefix=f"automl-trial-{trial.number}-") as folder:
        params_file = Path(folder) / "params.json"
        params_file.write_text(json.dumps(trial.params))
        env = {
            **os.environ,
            "AUTOML_URL": client.url,
            "AUTOML_TOKEN": client.token or "",
            ENV_JOB: str(trial.job_id),
            ENV_TRIAL: str(trial.number),
            ENV_TRIAL_TOKEN: trial.token,
            ENV_PARAMS: json.dumps(trial.params),
            ENV_PARAMS_FILE: str(params_file),
        }
        print(f"[trial {trial.number}] {json.dumps(trial.params)}", file=sys.stderr, flush=True)
        process = subprocess.Popen(
            list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        errors: list[str] = []
        relay = threading.Thread(target=_relay, args=(process.stderr, errors, trial.number))
        relay.start()
        last = ""
        for line in process.stdout:  # relayed to stderr: stdout is for the job's result
            print(f"[trial {trial.number}] {line}", end="", file=sys.stderr, flush=True)
            last = line.strip() or last
        process.wait()
        relay.join()
    _conclude(trial, process.returncode, last, "".join(errors))


def _relay(stream, kept: list[str], number: int) -> None:
    for line in stream:
        print(f"[trial {number}] {line}", end="", file=sys.stderr, flush=True)
        kept.append(line)


def _conclude(trial: TrialRun, returncode: int, last_line: str, stderr: str) -> None:
    """Tell the trial from how the command ended, unless the command told it itself (the
    platform then answers 409, which is fine)."""
    try:
        if returncode != 0:
            trial.fail(f"exit code {returncode}: {stderr[-STDERR_TAIL:]}".strip())
        elif (value := _number(last_line)) is not None:
            trial.tell(value)
        else:
            trial.fail("the command told nothing and its last line of output is not a number")
    except Conflict:
        pass  # told by the command (or failed as lost meanwhile)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
