"""Celery tasks: the only adapter between the engines and the database.

A task takes a job id, claims the job with a conditional update, builds a reporter on the
Job row, runs the engine on plain data, and records the outcome. Engines are imported
inside the task, so neither the web process nor the worker's parent imports torch.
"""

import logging
import os
import platform
import socket
import sys
from dataclasses import asdict

from celery import shared_task
from celery.signals import celeryd_init, worker_process_init

from automl.datasets.models import Dataset
from automl.jobs import lifecycle
from automl.jobs.models import Job
from automl.jobs.reporter import DatabaseReporter, heartbeat

log = logging.getLogger(__name__)
_children = os.cpu_count() or 1


@celeryd_init.connect
def _remember_concurrency(options: dict | None = None, **kwargs) -> None:
    global _children
    _children = (options or {}).get("concurrency") or os.cpu_count() or 1


@worker_process_init.connect
def _share_cores(**kwargs) -> None:
    # Children of one worker split the machine's cores instead of each taking all of them.
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _children))


def worker_info() -> dict:
    import torch

    # CUDA is first touched here, inside the child that runs the job, never in the parent.
    cuda = torch.cuda.is_available()
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "system": platform.system(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
    }


def load_data(dataset: Dataset):
    from workers.data.builtin import load_builtin

    if dataset.is_builtin:
        return load_builtin(dataset.builtin_name)
    raise ValueError(f"data set {dataset.id} has source {dataset.source!r}, which cannot load")


def run_engine(job: Job, reporter: DatabaseReporter):
    if job.kind == Job.Kind.HPO:
        from workers.hpo.engine import run_hpo

        return run_hpo(job.config, load_data(job.dataset), reporter, reporter.previous_trials())
    raise ValueError(f"no engine for job kind {job.kind!r}")


@shared_task(name="automl.run_job")
def run_job(job_id: int) -> None:
    info = worker_info()
    if not lifecycle.claim(job_id, info["host"], info):
        log.info("job %s: not claimable (finished, cancelled or running elsewhere)", job_id)
        return
    job = Job.objects.select_related("dataset").get(id=job_id)
    reporter = DatabaseReporter(job)
    try:
        with heartbeat(job_id):
            result = run_engine(job, reporter)
    except Exception as exc:
        log.exception("job %s failed", job_id)
        message = f"{type(exc).__name__}: {exc}"
        lifecycle.transition(job_id, Job.Status.FAILED, error_message=message)
        return
    summary = asdict(result)
    if result.stopped and reporter.should_stop():
        lifecycle.transition(job_id, Job.Status.CANCELLED, result=summary)
    else:
        lifecycle.transition(job_id, Job.Status.SUCCEEDED, result=summary)
