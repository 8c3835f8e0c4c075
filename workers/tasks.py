"""Celery tasks: the only adapter between the engines and the database.

A job runs as one `run_job` (claims it, creates its study, fans out) and `parallelism`
`run_trials` tasks that any worker may take, all on one shared Optuna study. The runner
that finds the study done closes the job: it syncs the trials, refits the best model and
sets the final status. Engines are imported inside the tasks, so neither the web process
nor the worker's parent imports torch.
"""

import datetime as dt
import gc
import logging
import os
import platform
import socket
import sys
import time
from pathlib import Path

from celery import shared_task
from celery.signals import celeryd_init, task_postrun, worker_process_init
from django.utils import timezone

from automl.jobs import lifecycle
from automl.jobs.models import Job, Trial
from automl.jobs.reconnect import reconnecting
from automl.jobs.reporter import DatabaseReporter, heartbeat
from automl.jobs.studies import storage_url

log = logging.getLogger(__name__)
_children = os.cpu_count() or 1


@celeryd_init.connect
def _remember_concurrency(options: dict | None = None, **kwargs) -> None:
    global _children
    _children = (options or {}).get("concurrency") or os.cpu_count() or 1


def gpu_for_child(index: int, declared: str) -> str | None:
    """The GPU pool child `index` trains on: the worker's declared GPUs (AUTOML_WORKER_GPUS,
    e.g. "0,1") taken in turn, so concurrent jobs do not share one."""
    gpus = [gpu.strip() for gpu in declared.split(",") if gpu.strip()]
    return gpus[index % len(gpus)] if gpus else None


@worker_process_init.connect
def _share_cores(**kwargs) -> None:
    from billiard.process import current_process

    # Before CUDA is first touched in this child: it sees its own GPU only.
    gpu = gpu_for_child(
        getattr(current_process(), "index", 0) or 0, os.environ.get("AUTOML_WORKER_GPUS", "")
    )
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    # Children of one worker split the machine's cores instead of each taking all of them.
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _children))


@task_postrun.connect
def _release_gpu_memory(**kwargs) -> None:
    # The next job on this child starts with its GPU's memory free, not held by the cache
    # of tensors the last one left behind.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        gc.collect()
        torch.cuda.empty_cache()


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
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_memory_free_mb": torch.cuda.mem_get_info()[0] // 2**20 if cuda else None,
    }


def load_data(job: Job):
    from automl.datasets.services import training_data

    return training_data(job.dataset, job.config)


def artifact_dir(job: Job):
    """Where the job's best model is saved (one folder per job, under ARTIFACT_ROOT)."""
    from django.conf import settings

    return settings.ARTIFACT_ROOT / "jobs" / str(job.id) / "best"


@reconnecting
def fail(job_id: int, exc: Exception) -> None:
    log.exception("job %s failed", job_id)
    message = f"{type(exc).__name__}: {exc}"
    lifecycle.transition(job_id, Job.Status.FAILED, error_message=message)


@shared_task(name="automl.run_job")
def run_job(job_id: int) -> None:
    """Claim the job, create its study once, and send out its trial runners."""
    from workers.hpo import engine

    info = worker_info()
    if not lifecycle.claim(job_id, info["host"], info):
        log.info("job %s: not claimable (finished, cancelled or running elsewhere)", job_id)
        return
    job = Job.objects.get(id=job_id)
    if job.kind == Job.Kind.NAS:
        start_nas(job)
        return
    if job.kind == Job.Kind.COMPRESSION:
        run_compression(job_id)
        return
    try:
        engine.create_study(job.config, engine.make_storage(storage_url(job)), job.study_name)
    except Exception as exc:
        fail(job_id, exc)
        return
    for runner in range(job.config.get("parallelism", 1)):
        run_trials.apply_async((job_id, runner), queue=job.queue)


@shared_task(name="automl.run_trials")
def run_trials(job_id: int, runner: int) -> None:
    """Run trials on the job's study until its budget is spent, then maybe close the job."""
    from django.conf import settings

    from workers.hpo import engine

    job = Job.objects.select_related("dataset").filter(id=job_id).first()
    if job is None or job.status != Job.Status.RUNNING:
        return
    if job.kind == Job.Kind.NAS:  # a parallel search's runner, or the reconciler's
        if job.config.get("parallelism", 1) > 1:  # new runner for a job whose worker died
            run_nas_candidates(job_id)
        else:
            run_nas(job_id)
        return
    if job.kind == Job.Kind.COMPRESSION:  # likewise: steps already registered are kept
        run_compression(job_id)
        return
    stale_after_s = settings.TRIAL_STALE_AFTER_S
    reporter = DatabaseReporter(job, worker=f"{socket.gethostname()}:{os.getpid()}")
    storage = engine.make_storage(storage_url(job))
    try:
        with heartbeat(job_id):
            data = load_data(job)
            engine.run_trials(
                job.config,
                data,
                reporter,
                storage,
                job.study_name,
                runner=runner,
                stale_after_s=stale_after_s,
            )
            wait_for_other_runners(engine, storage, job.study_name, stale_after_s)
            close(job, data, storage)
    except Exception as exc:
        fail(job_id, exc)


def run_nas(job_id: int) -> None:
    """Run a NAS job here: search, retrain the found architecture, save it, final status.

    A job taken over after its worker died resumes: the trials that worker had in flight
    fail, and the sampling strategies (evolution, rl, random) replay the stored trials and
    go on from there; DARTS restarts its search (its supernet is not checkpointed).
    """
    from workers.nas import engine
    from workers.shared_study import LOST

    job = Job.objects.select_related("dataset").get(id=job_id)
    reporter = DatabaseReporter(job, worker=f"{socket.gethostname()}:{os.getpid()}")
    Trial.objects.filter(job_id=job_id, state=Trial.State.RUNNING).update(
        state=Trial.State.FAILED,
        error=LOST,
        finished_at=timezone.now(),
    )
    history = [
        engine.candidate_from_trial(t.number, t.state, t.params, t.values)
        for t in Trial.objects.filter(job_id=job_id).order_by("number")
    ]
    try:
        with heartbeat(job_id):
            data = load_data(job)
            result = engine.run_nas(
                job.config,
                data,
                reporter,
                directory=artifact_dir(job),
                history=history,
                device=job.resources.get("device", "auto"),
            )
    except Exception as exc:
        fail(job_id, exc)
        return
    finish_nas(job, result)


def start_nas(job: Job) -> None:
    """Run the whole search here (parallelism 1), or create the job's study and send out
    `parallelism` candidate runners that any worker may take."""
    from workers.hpo.engine import make_storage
    from workers.nas import parallel

    parallelism = job.config.get("parallelism", 1)
    if parallelism <= 1:
        run_nas(job.id)
        return
    try:
        parallel.create_study(make_storage(storage_url(job)), job.study_name)
    except Exception as exc:
        fail(job.id, exc)
        return
    for runner in range(parallelism):
        run_trials.apply_async((job.id, runner), queue=job.queue)


def run_nas_candidates(job_id: int) -> None:
    """One runner of a parallel NAS search: train candidates on the job's shared study
    until it is done, then close the job unless another runner does."""
    from django.conf import settings

    from workers.hpo.engine import make_storage
    from workers.nas import parallel

    job = Job.objects.select_related("dataset").get(id=job_id)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    reporter = DatabaseReporter(job, worker=worker)
    storage = make_storage(storage_url(job))
    device = job.resources.get("device", "auto")
    try:
        with heartbeat(job_id):
            data = load_data(job)
            parallel.run_candidates(
                job.config,
                data,
                reporter,
                storage,
                job.study_name,
                worker=worker,
                device=device,
                stale_after_s=settings.TRIAL_STALE_AFTER_S,
            )
            if not lifecycle.start_closing(job_id):
                return  # another runner is closing it
            stopped = Job.objects.filter(id=job_id, cancel_requested=True).exists()
            result = parallel.close(
                job.config,
                data,
                reporter,
                storage,
                job.study_name,
                directory=artifact_dir(job),
                stopped=stopped,
                device=device,
            )
    except Exception as exc:
        fail(job_id, exc)
        return
    finish_nas(job, result)


def finish_nas(job: Job, result: dict) -> None:
    """Register the retrained model and set the final status of a NAS job."""
    if result["stopped"]:
        lifecycle.transition(job.id, Job.Status.CANCELLED, result=result)
        return
    model = {
        "trial": result["best"].get("number"),
        "params": result["genotype"],
        "test_metrics": result["retrain"].get("test_metrics"),
    }
    result["retrain"].update(register(job, model))
    lifecycle.transition(job.id, Job.Status.SUCCEEDED, result=result)


def run_compression(job_id: int) -> None:
    """Run a compression job here: each step's model is saved under step-<i> beside
    artifact_dir(job) and registered as a version whose parent is the previous step's."""
    from automl.registry.models import ModelVersion
    from automl.registry.services import register_model_directory
    from automl.registry.storage import get_storage
    from workers.compression import engine

    job = Job.objects.select_related("dataset").get(id=job_id)
    reporter = DatabaseReporter(job, worker=f"{socket.gethostname()}:{os.getpid()}")
    source = ModelVersion.objects.get(id=job.config["model_version"], owner=job.owner)
    storage = get_storage()
    teachers = {
        v.id: storage.local_dir(v.storage_key)
        for v in ModelVersion.objects.filter(
            owner=job.owner, id__in=[t for s in job.config["steps"] for t in s.get("teachers", [])]
        )
    }
    parents = [source]

    def on_step(i: int, step: dict) -> None:
        recipe = {
            "step": i,
            "technique": step["technique"],
            "config": step["config"],
            "from_version": source.id,
            "notes": step["notes"],
        }
        metrics = {**step["report"], **step["relative"]}
        version = register_model_directory(
            job.owner,
            source.name,
            Path(step["directory"]),
            parent=parents[-1],
            job=job,
            recipe=recipe,
            metrics=metrics,
        )
        step["model_version"] = version.id
        parents.append(version)

    try:
        with heartbeat(job_id):
            data = load_data(job)
            result = engine.run_compression(
                job.config,
                storage.local_dir(source.storage_key),
                data,
                reporter,
                directory=artifact_dir(job).parent,
                teachers=teachers,
                on_step=on_step,
            )
    except Exception as exc:
        fail(job_id, exc)
        return
    status = Job.Status.CANCELLED if result["stopped"] else Job.Status.SUCCEEDED
    lifecycle.transition(job_id, status, result=result)


@shared_task(name="automl.reconcile_jobs")
def reconcile_jobs() -> dict[str, int]:
    """Run by Celery beat every minute: re-send what the broker lost."""
    from django.conf import settings

    from automl.jobs.services import reconcile

    return reconcile(settings.RECONCILE_QUEUED_AFTER_S, settings.JOB_STALE_AFTER_S)


def wait_for_other_runners(engine, storage, study_name: str, stale_after_s: float) -> None:
    """Wait until no trial of the study is running: each ends, or goes stale and fails."""
    while engine.reap_stale_trials(storage, study_name, stale_after_s) > 0:
        time.sleep(1.0)


def close(job: Job, data, storage) -> None:
    from dataclasses import asdict

    from workers.hpo import engine

    if not lifecycle.start_closing(job.id):
        return  # another runner is closing it
    sync_trials(job, storage)
    cancelled = Job.objects.filter(id=job.id, cancel_requested=True).exists()
    result = engine.summarize(job.config, storage, job.study_name, allow_empty=cancelled)
    result.stopped = cancelled
    summary = asdict(result)
    if cancelled:
        lifecycle.transition(job.id, Job.Status.CANCELLED, result=summary)
        return
    summary["refit"] = engine.refit_best(
        job.config, data, storage, job.study_name, directory=artifact_dir(job)
    )
    if summary["refit"]:
        summary["refit"].update(register(job, summary["refit"]))
    lifecycle.transition(job.id, Job.Status.SUCCEEDED, result=summary)
    if version_id := summary["refit"].get("model_version"):
        # After the transition: the report reads the job's result (its importances).
        evaluate_new_version(version_id)


def register(job: Job, model: dict) -> dict:
    """Put the job's saved model (artifact_dir) in the registry; model holds "trial",
    "params" and "test_metrics". Returns {"model_version": id}, or why it failed."""
    from automl.registry.services import register_job_model

    try:  # idempotent: a job closed twice finds the version it registered
        return {"model_version": register_job_model(job, artifact_dir(job), model).id}
    except Exception as exc:  # the search succeeded; its files stay in artifact_dir
        log.exception("job %s: the model could not be registered", job.id)
        return {"registry_error": f"{type(exc).__name__}: {exc}"}


def sync_trials(job: Job, storage) -> None:
    """Make the Trial rows match the study: trials failed for a lost worker included."""
    import optuna

    states = {
        optuna.trial.TrialState.COMPLETE: Trial.State.COMPLETE,
        optuna.trial.TrialState.PRUNED: Trial.State.PRUNED,
        optuna.trial.TrialState.FAIL: Trial.State.FAILED,
    }
    rows = {t.number: t for t in Trial.objects.filter(job=job)}
    study = optuna.load_study(study_name=job.study_name, storage=storage)
    for trial in study.get_trials(deepcopy=False, states=tuple(states)):
        row = rows.get(trial.number)
        attrs = trial.system_attrs
        if attrs.get("discarded") or attrs.get("warm_start"):
            continue  # never ran here: a lost ask, or another job's trial
        if row and row.state == states[trial.state]:
            continue
        Trial.objects.update_or_create(
            job=job,
            number=trial.number,
            defaults={
                "state": states[trial.state],
                "params": trial.params,
                "values": trial.values,
                "intermediate_values": trial.intermediate_values,
                "error": trial.system_attrs.get("error", ""),
                # Optuna keeps naive local times; astimezone() reads them as local.
                "finished_at": trial.datetime_complete.astimezone(dt.UTC)
                if trial.datetime_complete
                else timezone.now(),
            },
        )


def evaluate_new_version(version_id: int) -> None:
    """Queue the evaluation report of a just-registered version, once."""
    from automl.evaluation.services import queue_first_evaluation

    try:
        queue_first_evaluation(version_id)
    except Exception:  # the job succeeded; its report can still be asked for by POST
        log.exception("version %s: its evaluation could not be queued", version_id)


@shared_task(name="automl.evaluate_model")
def evaluate_model(evaluation_id: int) -> str:
    """Compute a model version's evaluation report (claimed once, safe to run twice)."""
    from automl.evaluation.services import run_evaluation

    return run_evaluation(evaluation_id)


@shared_task(name="automl.profile_dataset")
def profile_dataset(dataset_id: int) -> str:
    """Profile an uploaded data set too large to profile during its upload."""
    from automl.datasets.services import profile_dataset as profile

    return profile(dataset_id)


@shared_task(name="automl.drift_reports")
def drift_reports() -> dict[str, int]:
    """Run by Celery beat (DRIFT_REPORT_EVERY_S): a drift report per deployment with traffic."""
    from automl.monitoring.services import scheduled_reports

    return scheduled_reports()
