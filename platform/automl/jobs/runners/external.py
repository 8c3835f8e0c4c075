"""External trials: the platform hosts the study, the user's machines run the trials.

A worker creates the study when it claims the job (start) and the job stays running
while machines call in over REST: ask (a trial number, its parameters and a trial token),
report (an intermediate value; the answer says whether the study's pruner stops the
trial), tell (values, pruned, or failed) and heartbeat. Each call refreshes the job's
heartbeat. The budget and the heartbeat of each trial are workers.studies', as for HPO: a
trial with no heartbeat for `lost_after_s` is failed as lost by the next ask, which hands
out its replacement. Once the budget is done (or the job's time is out, or it was
cancelled) and no trial runs, a trial runner (run_trials, sent by the call that saw it,
or by the reconciler for a job nobody calls any more) closes the job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from automl.errors import Conflict, Invalid, NotFound
from automl.jobs import lifecycle, studies
from automl.jobs.kinds import JobKind
from automl.jobs.models import Job, Trial
from automl.jobs.runners.base import fail
from automl.jobs.studies import study_storage

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from workers.external.study import Answer, ExternalStudy

TOKEN_SALT = "automl.external-trial"
MAX_TRIAL_FILES = 20  # files attached to one trial
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class External(JobKind):
    noun = "external"
    form_path = "automl.jobs.forms.ExternalForm"
    config_path = "workers.external.config.ExternalConfig"
    platform_keys = frozenset()
    needs_dataset = False
    external_trials = True
    param_columns = True

    def validate(self, config, *, dataset, task, owner, parallelism, errors) -> dict:
        from workers.external.config import validate_external_config

        return validate_external_config(config).to_json()

    def start(self, job: Job) -> int:
        from workers.external import study

        try:
            storage = study_storage(job)
            study.create(job.typed_config, storage, job.study_name)
            studies.label(job, storage, self.metrics(job))
        except Exception as exc:
            fail(job.id, exc)
        return 0  # no runner: the user's machines run the trials

    def run(self, job: Job, runner: int) -> None:
        """Fail the trials whose machine went silent; close the job once nothing is left."""
        from workers.studies.budget import Step

        try:
            external = _study(job)
            trials, lost = external.budget.read()
            _record_lost(job, lost)
            if external.budget.next_step(trials, stop=_stopping(job)) is Step.DONE:
                close(job)
        except Exception as exc:
            fail(job.id, exc)

    def metrics(self, job: Job) -> list[str]:
        return job.typed_config.metrics

    def direction(self, job: Job) -> str:
        direction = job.typed_config.direction
        return direction if isinstance(direction, str) else direction[0]

    def figures(self, job, sample, metrics):
        from automl.jobs import charts

        return [
            *super().figures(job, sample, metrics),
            charts.importances((job.result or {}).get("importances") or {}),
        ]

    def search_importances(self, job: Job) -> dict:
        return (job.result or {}).get("importances") or {}


# --- what the REST endpoints do


def trial_token(job: Job, number: int) -> str:
    """What a machine presents with each call about its trial (and the CLI hands the
    user's script): signed, so a script cannot report into another trial by mistake."""
    return signing.dumps({"job": job.id, "trial": number}, salt=TOKEN_SALT)


def check_token(job: Job, number: int, token: str) -> None:
    try:
        claims = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        claims = None
    if claims != {"job": job.id, "trial": number}:
        message = f"is not the token ask gave for trial {number} of job {job.id}"
        raise Invalid(f"token: {message}", {"token": [message]})


def ask(job: Job, worker: str) -> Answer:
    """A trial for a machine to run, or "wait" (also while a worker sets the study up) or
    "done"."""
    from workers.external.study import Answer

    if job.status == Job.Status.QUEUED:
        return Answer("wait")
    try:
        external = _study(job)
    except NotFound:  # claimed, the study not created yet: the worker is at it
        return Answer("wait")
    answer = external.ask(stop=_stopping(job))
    _record_lost(job, answer.lost)
    if answer.step == "trial":
        Trial.objects.update_or_create(
            job=job,
            number=answer.number,
            defaults={
                "state": Trial.State.RUNNING,
                "params": answer.params,
                "worker": worker[:255],
                "started_at": timezone.now(),
                "intermediate_values": {},
            },
        )
    elif answer.step == "done":
        _send_closer(job)
    _beat_job(job)
    return answer


def report(job: Job, number: int, step: int, value: float) -> bool:
    """Record an intermediate value; whether the trial should stop (be pruned): the
    pruner says so, or the job was cancelled or ran out of time (as the job's timeout
    reaches inside an HPO trial, a long trial stops at its next report)."""
    external = _study(job)
    with _trial_errors(number):
        should_prune = external.report(number, step, value) or _stopping(job)
    Trial.objects.filter(job=job, number=number).update(
        intermediate_values=external.trial(number).intermediate_values
    )
    _beat_job(job)
    return should_prune


def heartbeat(job: Job, number: int) -> None:
    external = _study(job)
    with _trial_errors(number):
        external.heartbeat(number)
    _beat_job(job)


def tell(job: Job, number: int, state: str, values: list[float] | None, error: str) -> Trial:
    """End the trial; the job closes once its budget is done."""
    from workers.studies.budget import Step

    external = _study(job)
    with _trial_errors(number):
        try:
            frozen = external.tell(number, state, values, error)
        except ValueError as exc:
            raise Invalid(f"values: {exc}", {"values": [str(exc)]}) from None
    row = _save(job, frozen)
    trials, _ = external.budget.read()
    done = sum(external.budget.takes_place(t) and t.state.is_finished() for t in trials)
    Job.objects.filter(id=job.id, status=Job.Status.RUNNING).update(
        progress=min(1.0, done / external.config.n_trials), heartbeat_at=timezone.now()
    )
    if external.budget.next_step(trials, stop=_stopping(job)) is Step.DONE:
        _send_closer(job)
    return row


def trial_files(job: Job, number: int) -> Path:
    """Where the files a user attached to a trial are kept."""
    return settings.ARTIFACT_ROOT / "jobs" / str(job.id) / "trials" / str(number)


def attach(job: Job, number: int, name: str, upload: IO[bytes], size: int) -> list[str]:
    """Keep a file the user's code made in a trial (a model, a plot); the best trial's files
    become the job's model version. Returns the trial's file names."""
    row = Trial.objects.filter(job=job, number=number).first()
    if row is None:
        raise NotFound(f"this job has no trial {number}")
    if row.state == Trial.State.FAILED:
        raise Conflict(f"trial {number} failed: its files would never be used")
    if not FILE_NAME.fullmatch(name or ""):
        message = "a plain file name: letters, digits, . _ - (100 at most)"
        raise Invalid(f"file: {message}", {"file": [message]})
    if size > settings.MODEL_MAX_UPLOAD_BYTES:
        message = f"is larger than MODEL_MAX_UPLOAD_BYTES ({settings.MODEL_MAX_UPLOAD_BYTES})"
        raise Invalid(f"file: {message}", {"file": [message]})
    folder = trial_files(job, number)
    folder.mkdir(parents=True, exist_ok=True)
    kept = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".part"))
    if name not in kept and len(kept) >= MAX_TRIAL_FILES:
        message = f"a trial keeps at most {MAX_TRIAL_FILES} files"
        raise Invalid(f"file: {message}", {"file": [message]})
    part = folder / f"{name}.part"
    with part.open("wb") as out:
        shutil.copyfileobj(upload, out)
    part.replace(folder / name)  # readers never see half a file
    _beat_job(job)
    return sorted({*kept, name})


def close(job: Job) -> None:
    """Sync the trials, summarise the study and end the job, once."""
    from automl.jobs.runners.hpo import sync_trials
    from workers.external.study import summarize

    if not lifecycle.start_closing(job.id):
        return  # another runner is closing it
    storage = study_storage(job)
    sync_trials(job, storage)
    summary = summarize(job.typed_config, storage, job.study_name)
    if Job.objects.filter(id=job.id, cancel_requested=True).exists():
        lifecycle.transition(job.id, Job.Status.CANCELLED, result=summary)
    elif summary["best_number"] is None:
        message = (
            f"no trial completed ({summary['n_pruned']} pruned, {summary['n_failed']} failed)"
        )
        lifecycle.transition(job.id, Job.Status.FAILED, result=summary, error_message=message)
    else:
        summary.update(register_best_files(job, summary))
        lifecycle.transition(job.id, Job.Status.SUCCEEDED, result=summary)


def register_best_files(job: Job, summary: dict) -> dict:
    """The best trial's files as the job's model version: in the platform's own format
    (spec.json beside its weights) as that model; any other files as kind "external",
    kept and downloadable. {"model_version": id}, {"registry_error": why} or {} (none)."""
    from automl.registry.services import register_job_result

    folder = trial_files(job, summary["best_number"])
    files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.endswith(".part"))
    if not files:
        return {}
    best = {
        "trial": summary["best_number"],
        "params": summary["best_params"],
        "test_metrics": dict(zip(job.typed_config.metrics, summary["best_values"], strict=False)),
    }
    if (folder / "spec.json").exists():
        return register_job_result(job, folder, best)
    with tempfile.TemporaryDirectory() as tmp:
        listed = {}
        for path in files:
            shutil.copyfile(path, Path(tmp) / path.name)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            listed[path.name] = {"sha256": digest, "size": path.stat().st_size}
        spec = {
            "kind": "external",
            "framework": "external",
            "files": listed,
            "file": files[0].name,
            "sha256": hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest(),
            "size": sum(f["size"] for f in listed.values()),
            "trial": summary["best_number"],
        }
        (Path(tmp) / "spec.json").write_text(json.dumps(spec, indent=2))
        return register_job_result(job, Path(tmp), best)


# --- helpers


def running_job(job: Job) -> Job:
    """The job, if machines may call in on it (Conflict once it has ended); a queued one
    has its study set up by a worker soon: ask answers "wait"."""
    if job.status not in Job.ACTIVE or job.closing_at is not None:
        raise Conflict(f"job {job.id} has ended ({job.status}): it hands out no more trials")
    return job


def _study(job: Job) -> ExternalStudy:
    """The job's study (NotFound until the worker that claimed the job has created it)."""
    from sqlalchemy.exc import SQLAlchemyError

    from workers.external.study import ExternalStudy

    try:
        return ExternalStudy(job.typed_config, study_storage(job), job.study_name)
    except KeyError:
        raise NotFound(f"job {job.id}'s study is not set up yet") from None
    except SQLAlchemyError as exc:
        # A brand-new database: the worker is creating Optuna's tables at this moment.
        if "already exists" not in str(exc):
            raise
        raise NotFound(f"job {job.id}'s study is not set up yet") from None


def _stopping(job: Job) -> bool:
    """Out of time, or cancelled: no more trials are handed out."""
    timeout_s = job.typed_config.timeout_s
    if job.cancel_requested:
        return True
    if timeout_s is None or job.started_at is None:
        return False
    return timezone.now() >= job.started_at + dt.timedelta(seconds=timeout_s)


@contextmanager
def _trial_errors(number: int) -> Iterator[None]:
    """The study's refusals as the API's: an unknown trial (404), one that ended (409,
    saying when it was failed as lost: its machine should stop and ask again)."""
    from workers.external.study import TrialFinished, TrialNotFound
    from workers.studies.heartbeat import LOST, is_lost

    try:
        yield
    except TrialNotFound:
        raise NotFound(f"this job has no trial {number}") from None
    except TrialFinished as exc:
        why = f": {LOST}" if is_lost(exc.trial) else ""
        raise Conflict(f"{exc}{why}", {"state": [str(exc)]}) from None


def _save(job: Job, frozen: FrozenTrial) -> Trial:
    from workers.failures import classify_text
    from workers.studies.budget import NAMES
    from workers.studies.heartbeat import FAILURE_CLASS

    error = frozen.system_attrs.get("error", "")
    failure = frozen.system_attrs.get(FAILURE_CLASS, "")
    if NAMES[frozen.state] == Trial.State.FAILED and not failure:
        failure = classify_text(error)  # what the user's machine said went wrong
    row, _ = Trial.objects.update_or_create(
        job=job,
        number=frozen.number,
        defaults={
            "state": NAMES[frozen.state],
            "params": frozen.params,
            "values": frozen.values,
            "intermediate_values": frozen.intermediate_values,
            "error": error,
            "failure_class": failure,
            "finished_at": frozen.datetime_complete.astimezone(dt.UTC)
            if frozen.datetime_complete
            else timezone.now(),
        },
    )
    return row


def _record_lost(job: Job, lost: list[FrozenTrial]) -> None:
    from workers.failures import INFRASTRUCTURE
    from workers.studies.heartbeat import LOST

    for trial in lost:
        Trial.objects.filter(job=job, number=trial.number, state=Trial.State.RUNNING).update(
            state=Trial.State.FAILED,
            error=LOST,
            failure_class=INFRASTRUCTURE,
            finished_at=timezone.now(),
        )


def _beat_job(job: Job) -> None:
    Job.objects.filter(id=job.id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())


def _send_closer(job: Job) -> None:
    """A trial runner to close the job (summary, fANOVA) on a worker, not in this request;
    closing is claimed once, so one sent by every machine that noticed is harmless."""
    from automl.jobs.tasks import run_trials

    transaction.on_commit(lambda: run_trials.apply_async((job.id, 0), queue=job.queue))
