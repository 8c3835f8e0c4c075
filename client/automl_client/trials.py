"""Trials of an external job, run on this machine: your own code, tuned by the platform.

    job = client.jobs.submit("external", None, config)      # or client.jobs.get(id)
    for trial in job.trials_to_run():
        model = build(**trial.params)
        for epoch in range(10):
            accuracy = train_one_epoch(model)
            if trial.report(epoch, accuracy):                 # the pruner says stop
                trial.prune()
                break
        else:
            trial.tell(accuracy)

While the loop body runs, a thread sends the trial's heartbeat, so a machine that dies
(or is killed) loses only its trial: the platform fails it as lost and hands it out again.
A body that ends without telling fails its trial, saying so. Several machines (or several
processes of one) may run the loop on one job at once.

A script that `automl tune` runs gets its trial from the environment instead; it calls the
module's functions (`automl_client.params`, `report`, `attach`, `tell`).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_client.errors import ApiError, Conflict

if TYPE_CHECKING:
    from automl_client.client import Client

# What `automl tune` puts in the environment of each run of the command.
ENV_JOB = "AUTOML_JOB"
ENV_TRIAL = "AUTOML_TRIAL"
ENV_TRIAL_TOKEN = "AUTOML_TRIAL_TOKEN"
ENV_PARAMS = "AUTOML_PARAMS"
ENV_PARAMS_FILE = "AUTOML_PARAMS_FILE"


@dataclass(kw_only=True)
class TrialRun:
    """One trial this machine runs: its number, its parameters, and what to say about it."""

    job_id: int
    number: int
    params: dict
    token: str
    client: Client = field(repr=False)
    finished: bool = False
    lost: bool = False  # the platform failed it as lost (no heartbeat in time)

    def _post(self, action: str, **body: Any) -> dict:
        return self.client.request(
            "POST",
            f"/jobs/{self.job_id}/trials/{self.number}/{action}/",
            json={"token": self.token, **body},
        )

    def report(self, step: int, value: float) -> bool:
        """Record the first metric's value at `step` (e.g. an epoch); True when the study's
        pruner says to stop this trial (then call `prune()`)."""
        return bool(self._post("report", step=int(step), value=float(value))["should_prune"])

    def tell(self, value: float | None = None, *, values: list[float] | None = None) -> None:
        """The trial ran to its end: its value (or one per metric)."""
        body = {"values": [float(v) for v in values]} if values else {"value": float(value)}
        self._end(state="complete", **body)

    def prune(self) -> None:
        """Stopped early, as the pruner said: its value is the last one reported."""
        self._end(state="pruned")

    def fail(self, error: str) -> None:
        """It broke, and why (it counts against the budget, as a failed HPO trial does)."""
        self._end(state="failed", error=error[-10_000:])

    def attach(self, path: str | Path) -> list[str]:
        """Keep a file your code made (a model, a plot) with the trial; when the job ends,
        the best trial's files are registered as its model version. Returns the trial's
        file names."""
        path = Path(path)
        with path.open("rb") as file:
            answer = self.client.request(
                "POST",
                f"/jobs/{self.job_id}/trials/{self.number}/files/",
                data={"token": self.token},
                files={"file": (path.name, file)},
            )
        return answer["files"]

    def heartbeat(self) -> bool:
        """Tell the platform the trial still runs; False once it was failed as lost."""
        try:
            self._post("heartbeat")
        except Conflict:
            self.lost = True
        return not self.lost

    def _end(self, **body: Any) -> None:
        try:
            self._post("tell", **body)
        finally:
            self.finished = True


def trials_to_run(client: Client, job_id: int, *, worker: str | None = None) -> Iterator[TrialRun]:
    """The job's trials for this machine, one at a time, until its budget is done (or the
    job ends); waits while the job is queued and while every place is taken."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    while True:
        try:
            answer = client.request(
                "POST", f"/jobs/{job_id}/trials/ask/", json={"worker": worker[:255]}
            )
        except Conflict:
            return  # the job has ended
        if answer["status"] == "done":
            return
        if answer["status"] == "wait":  # every place taken, or the study being set up
            time.sleep(answer["retry_after_s"])
            continue
        trial = TrialRun(
            job_id=job_id,
            number=answer["number"],
            params=answer["params"],
            token=answer["token"],
            client=client,
        )
        with _beating(trial, answer["heartbeat_s"]):
            try:
                yield trial
            except GeneratorExit:  # the loop was left (break, an exception)
                _fail_unless_told(trial, "the loop was left before the trial was told")
                raise
            _fail_unless_told(trial, "the loop body ended without telling the trial")


def _fail_unless_told(trial: TrialRun, why: str) -> None:
    if trial.finished or trial.lost:
        return
    try:
        trial.fail(why)
    except ApiError:
        pass  # it ended meanwhile (failed as lost)


class _beating:
    """The trial's heartbeat every `every_s` on a thread, while the block runs."""

    def __init__(self, trial: TrialRun, every_s: float) -> None:
        self.trial, self.every_s = trial, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"automl-trial-{trial.number}", daemon=True
        )

    def _run(self) -> None:
        while not self.stop.wait(self.every_s):
            if self.trial.finished:
                return
            try:
                if not self.trial.heartbeat():
                    return
            except Exception:  # a dropped connection: the next beat may get through
                continue

    def __enter__(self) -> None:
        self.thread.start()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


# --- inside a command that `automl tune` runs


@functools.cache
def current() -> TrialRun | None:
    """This process's trial, from the environment `automl tune` set; None outside it."""
    token = os.environ.get(ENV_TRIAL_TOKEN)
    if not token:
        return None
    from automl_client.client import Client

    return TrialRun(
        job_id=int(os.environ[ENV_JOB]),
        number=int(os.environ[ENV_TRIAL]),
        params=params(),
        token=token,
        client=Client(progress=False),
    )


def params() -> dict:
    """The trial's parameters ({} outside `automl tune`)."""
    return json.loads(os.environ.get(ENV_PARAMS) or "{}")


def report(step: int, value: float) -> bool:
    """Record an intermediate value; True when the pruner says stop (then call
    `tell(pruned=True)` and exit). Outside `automl tune` it records nothing: False."""
    trial = current()
    return trial.report(step, value) if trial else False


def attach(path: str | Path) -> list[str]:
    """Keep a file with this process's trial (see TrialRun.attach); outside `automl tune`
    it keeps nothing: []."""
    trial = current()
    return trial.attach(path) if trial else []


def tell(
    value: float | None = None,
    *,
    values: list[float] | None = None,
    pruned: bool = False,
    error: str | None = None,
) -> None:
    """End this process's trial: its value(s), pruned, or failed with `error`. Outside
    `automl tune` it does nothing. Printing the value as the last line of output works
    too."""
    trial = current()
    if trial is None:
        return
    if error is not None:
        trial.fail(error)
    elif pruned:
        trial.prune()
    else:
        trial.tell(value, values=values)
