import logging

from django.db import transaction

from automl.celery import app as celery_app
from automl.datasets.models import Dataset
from automl.jobs.models import Job

log = logging.getLogger(__name__)


def queue_for(resources: dict) -> str:
    """Jobs that ask for CUDA go to GPU workers; everything else to CPU workers."""
    return "gpu" if resources.get("device") == "cuda" or resources.get("gpus", 0) > 0 else "cpu"


def enqueue(job: Job) -> None:
    try:
        celery_app.send_task("automl.run_job", args=[job.id], queue=job.queue)
    except Exception:
        # The job is safely stored as queued; Postgres is the truth and it is sent again
        # once the broker is back.
        log.exception("job %s: could not reach the broker; it stays queued", job.id)


def submit_job(owner, *, kind: str, name: str, dataset: Dataset, config: dict,
               resources: dict) -> Job:
    """Store a validated job and send it to a worker once the row is committed."""
    with transaction.atomic():
        job = Job.objects.create(
            owner=owner, kind=kind, name=name, dataset=dataset, config=config,
            resources=resources, queue=queue_for(resources),
        )
        transaction.on_commit(lambda: enqueue(job))
    return job
