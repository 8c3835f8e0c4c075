import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from automl.accounts.models import active_jobs_limit
from automl.datasets.models import Dataset
from automl.errors import OverQuota
from automl.jobs import studies
from automl.jobs.models import Job
from automl.jobs.tasks import run_job, run_trials

log = logging.getLogger(__name__)


def queue_for(resources: dict) -> str:
    """Jobs that ask for CUDA go to GPU workers; everything else to CPU workers."""
    return "gpu" if resources.get("device") == "cuda" or resources.get("gpus", 0) > 0 else "cpu"


def enqueue(job: Job) -> None:
    try:
        run_job.apply_async((job.id,), queue=job.queue)
    except Exception:
        # The job is safely stored as queued; Postgres is the truth and it is sent again
        # once the broker is back.
        log.exception("job %s: could not reach the broker; it stays queued", job.id)


def check_active_jobs(owner) -> None:
    """OverQuota when the owner already has their limit of queued and running jobs. The
    owner's row is locked first, so two submissions at once cannot both take the last one."""
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    limit = active_jobs_limit(owner)
    active = Job.objects.filter(owner=owner, status__in=Job.ACTIVE).count()
    if active >= limit:
        raise OverQuota(
            f"you have {active} queued or running jobs, the limit (JOB_MAX_ACTIVE_PER_USER, "
            f"or your quota) is {limit}: wait for one to finish or cancel one",
            {"quota": [f"at most {limit} queued or running jobs"]},
        )


def submit_job(
    owner, *, kind: str, name: str, dataset: Dataset, config: dict, resources: dict
) -> Job:
    """Store a validated job and send it to a worker once the row is committed; over the
    owner's limit of queued and running jobs, OverQuota naming it."""
    with transaction.atomic():
        check_active_jobs(owner)
        job = Job.objects.create(
            owner=owner,
            kind=kind,
            name=name,
            dataset=dataset,
            config=config,
            resources=resources,
            queue=queue_for(resources),
        )
        studies.name_new_job(job)
        run_job.apply_async_on_commit((job.id,), queue=job.queue)
    return job


def reconcile(queued_after_s: float, stale_after_s: float) -> dict[str, int]:
    """Send again what the broker may have lost; Postgres is the truth.

    - a job queued for longer than `queued_after_s` gets its run_job again (a duplicate is
      harmless: the job is claimed with a conditional update);
    - a running job whose heartbeat is older than `stale_after_s` has lost every runner
      (a worker machine died with the message unacknowledged): it gets one new runner,
      which resumes the study where the dead ones left it.
    """
    now = timezone.now()
    queued = list(
        Job.objects.filter(
            status=Job.Status.QUEUED, created_at__lt=now - timedelta(seconds=queued_after_s)
        )
    )
    for job in queued:
        enqueue(job)
    stale = list(
        Job.objects.filter(
            status=Job.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale_after_s)
        )
    )
    for job in stale:
        # Refresh the heartbeat so the next pass does not pile up more runners.
        Job.objects.filter(id=job.id).update(heartbeat_at=now)
        run_trials.apply_async((job.id, 0), queue=job.queue)
    return {"requeued": len(queued), "resumed": len(stale)}
