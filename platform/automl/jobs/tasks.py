"""The job tasks: the only adapters between the engines and the Job rows.

A job runs as one `run_job` (claims it, lets its kind start it) and the trial runners
(`run_trials`) its kind asks for, which any worker may take. What each does is the kind's
(automl.jobs.kinds); the task names are what messages in flight and beat schedules use.
"""

import logging
import socket

from celery import current_task, shared_task
from django.db.models import Q

from automl.jobs import kinds, lifecycle
from automl.jobs.models import Job
from automl.jobs.worker import placement_problem, worker_info

log = logging.getLogger(__name__)


@shared_task(name="automl.run_job")
def run_job(job_id: int) -> None:
    """Claim the job, start it, and send out the trial runners its kind asks for."""
    if refused(job_id, Job.Status.QUEUED):
        return
    info = worker_info()
    if not lifecycle.claim(job_id, info["host"], info):
        log.info("job %s: not claimable (finished, cancelled or running elsewhere)", job_id)
        return
    job = Job.objects.get(id=job_id)
    for runner in range(kinds.get(job.kind).start(job)):
        run_trials.apply_async((job_id, runner), queue=job.queue)


@shared_task(name="automl.run_trials")
def run_trials(job_id: int, runner: int) -> None:
    """Run the job until its budget is spent, then maybe close it."""
    job = Job.objects.select_related("dataset").filter(id=job_id).first()
    if job is None or job.status != Job.Status.RUNNING or refused(job_id, job.status):
        return
    kinds.get(job.kind).run(job, runner)


@shared_task(name="automl.register_best")
def register_best(job_id: int) -> None:
    """Register the best finished trial of a failed or cancelled job (its kind's
    register_best); nothing when the job has registered a version meanwhile."""
    from automl.registry.models import ModelVersion

    job = Job.objects.select_related("dataset").filter(id=job_id).first()
    if job is None or ModelVersion.objects.filter(job=job).exists():
        return
    kinds.get(job.kind).register_best(job)


def refused(job_id: int, status: str) -> bool:
    """When this worker child cannot give the job the GPUs its resources ask for
    (automl.jobs.worker.placement_problem): fail it, if it is still in `status`, with the
    reason. A trial runner refused on a running job fails the job too: every worker of a
    queue must give a job what the queue's jobs ask (README, "GPUs and model parallel")."""
    resources = Job.objects.filter(id=job_id).values_list("resources", flat=True).first()
    # The worker's name (w1@host) inside a worker; the host when called in-process.
    worker = getattr(getattr(current_task, "request", None), "hostname", None)
    problem = placement_problem(resources or {}, worker or socket.gethostname())
    if problem is None:
        return False
    log.warning("job %s: %s", job_id, problem)
    lifecycle.transition(
        job_id, Job.Status.FAILED, only_if=Q(status=status), error_message=problem
    )
    return True


@shared_task(name="automl.reconcile_jobs")
def reconcile_jobs() -> dict[str, int]:
    """Run by Celery beat every minute: re-send what the broker lost (jobs, evaluations,
    data set profiles) and fail what lost its worker."""
    from django.conf import settings

    from automl.datasets.services import reconcile_profiles
    from automl.evaluation.services import reconcile_evaluations
    from automl.jobs.services import reconcile

    queued_after_s = settings.RECONCILE_QUEUED_AFTER_S
    return {
        **reconcile(queued_after_s, settings.JOB_STALE_AFTER_S),
        **reconcile_evaluations(queued_after_s, settings.EVALUATION_MAX_RUNNING_S),
        **reconcile_profiles(queued_after_s, settings.PROFILE_MAX_PENDING_S),
    }


@shared_task(name="automl.run_schedules")
def run_schedules() -> dict[str, int]:
    """Run by Celery beat every minute: submit the jobs whose schedule is due."""
    from automl.jobs.schedules import run_due

    return run_due()
