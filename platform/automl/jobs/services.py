import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from automl import audit
from automl.accounts.models import limits_for
from automl.datasets.models import Dataset
from automl.errors import Conflict, Invalid, OverQuota
from automl.jobs import dispatch, kinds, lifecycle, studies
from automl.jobs.models import Job, Trial
from automl.jobs.tasks import register_best, run_job, run_trials

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
    limit = limits_for(owner).active_jobs
    active = Job.objects.filter(owner=owner, status__in=Job.ACTIVE).count()
    if active >= limit:
        raise OverQuota(
            f"you have {active} queued or running jobs, the limit (JOB_MAX_ACTIVE_PER_USER, "
            f"or your quota) is {limit}: wait for one to finish or cancel one",
            {"quota": [f"at most {limit} queued or running jobs"]},
        )


def submit_job(
    owner,
    *,
    kind: str,
    name: str,
    dataset: Dataset,
    config: dict,
    resources: dict,
    priority: int = 0,
    parent: Job | None = None,
) -> Job:
    """Store a validated job, queued; once the row is committed the scheduler sends it to
    a worker at its turn (automl.jobs.dispatch). Over the owner's limit of queued and
    running jobs, OverQuota naming it."""
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
            priority=priority,
            parent=parent,
        )
        studies.name_new_job(job)
        audit.record(job, owner, {"status": [None, job.status]}, audit.Action.CREATE)
        dispatch.dispatch_on_commit()
    return job


def retry_stage(job: Job, stage: object, actor=None) -> None:
    """Run a failed or cancelled pipeline again from one of its stages (0-based); the
    stages before it and what they made are kept."""
    kind = kinds.get(job.kind)
    if not kind.orchestrates:
        nouns = " and ".join(k.noun for k in kinds.all_kinds() if k.orchestrates)
        raise Invalid(f"only {nouns} jobs have stages", {"kind": ["has no stages"]})
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise Conflict(
            f"job {job.id} is {job.status}: only a failed or cancelled pipeline continues "
            "from a stage",
            {"stage": ["the job must have failed or been cancelled"]},
        )
    with transaction.atomic():
        check_active_jobs(job.owner)
        kind.retry_from(job, stage)
        if not lifecycle.reopen(job.id):
            raise Conflict(f"job {job.id} is no longer finished")
        audit.record(
            job, actor, {"status": [job.status, Job.Status.QUEUED], "from_stage": [None, stage]}
        )
        dispatch.dispatch_on_commit()


def failed_not_rerun(job: Job):
    """The job's failed trials that no trial retries or re-runs yet."""
    trials = Trial.objects.filter(job=job).order_by()  # (Trial's ordering would join Job)
    retried = trials.filter(retry_of__isnull=False).values_list("retry_of", flat=True)
    return trials.filter(state=Trial.State.FAILED).exclude(number__in=list(retried))


def rerun_failed(job: Job, failure_class: str | None = None, actor=None) -> list[int]:
    """Run the finished job's failed trials again (all, or those of one failure class) with
    the parameters they ran with, as new trials linked to them (retry_of); a trial already
    re-run or retried is not run again. The job is queued again and closes as before, its
    budget grown by the re-runs. Returns the numbers of the failed trials re-run."""
    kind = kinds.get(job.kind)
    if not kind.reruns_failed:
        nouns = " and ".join(k.noun for k in kinds.all_kinds() if k.reruns_failed)
        raise Invalid(f"only {nouns} jobs re-run failed trials", {"kind": ["not re-runnable"]})
    if not job.is_finished:
        raise Conflict(
            f"job {job.id} is still {job.status}: its retry policies retry failed trials "
            "while it runs; re-run the rest once it has finished"
        )
    failed = failed_not_rerun(job)
    if failure_class:
        failed = failed.filter(failure_class=failure_class)
    reruns = dict(failed.order_by("number").values_list("number", "params"))
    if not reruns:
        which = f" of class {failure_class}" if failure_class else ""
        raise Invalid(
            f"job {job.id} has no failed trial{which} left to re-run",
            {"failure_class": [f"no failed trial{which} that was not re-run already"]},
        )
    with transaction.atomic():
        check_active_jobs(job.owner)
        if not lifecycle.reopen(job.id):
            raise Conflict(f"job {job.id} is no longer finished")
        kind.rerun(job, reruns)
        audit.record(
            job, actor, {"status": [job.status, Job.Status.QUEUED], "rerun": [None, list(reruns)]}
        )
        dispatch.dispatch_on_commit()
    return list(reruns)


def register_best_so_far(job: Job, actor=None) -> int:
    """Queue the registration of the best finished trial of a failed or cancelled job (a
    worker refits it, as a succeeded job's close does). Returns that trial's number."""
    from automl.registry.models import ModelVersion

    kind = kinds.get(job.kind)
    if not kind.registers_best_so_far:
        nouns = " and ".join(k.noun for k in kinds.all_kinds() if k.registers_best_so_far)
        raise Invalid(
            f"only {nouns} jobs register their best trial so far", {"kind": ["not supported"]}
        )
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise Conflict(
            f"job {job.id} is {job.status}: only a failed or cancelled job registers its best "
            "trial so far (a succeeded one registered its best when it finished)"
        )
    if ModelVersion.objects.filter(job=job).exists():
        raise Conflict(f"job {job.id} has registered a model already")
    best = best_finished_trial(job)
    if best is None:
        raise Conflict(f"job {job.id} has no finished trial to register")
    audit.record(job, actor, {"register_best": [None, best.number]})
    transaction.on_commit(lambda: register_best.apply_async((job.id,), queue=job.queue))
    return best.number


def best_finished_trial(job: Job) -> Trial | None:
    """The complete, not excluded trial with the best first value (None: none finished)."""
    trials = Trial.objects.filter(job=job, state=Trial.State.COMPLETE, excluded=False)
    best = None
    maximize = kinds.get(job.kind).direction(job) == "maximize"
    for trial in trials.exclude(values=None).only("number", "values"):
        value = trial.values[0] if trial.values else None
        if value is None:
            continue
        if best is None or (value > best[0] if maximize else value < best[0]):
            best = (value, trial)
    return best[1] if best else None


def _able(job: Job, ability: str, done: str):
    """The job's kind, or Invalid naming the kinds that have `ability` (a JobKind flag)."""
    kind = kinds.get(job.kind)
    if not getattr(kind, ability):
        nouns = [k.noun for k in kinds.all_kinds() if getattr(k, ability)]
        listed = ", ".join(nouns[:-1]) + " and " + nouns[-1] if len(nouns) > 1 else nouns[0]
        raise Invalid(f"only {listed} jobs can be {done}", {"kind": [f"not {ability}"]})
    return kind


def _pausable(job: Job):
    return _able(job, "pausable", "paused and resumed")


def pause_job(job: Job, actor=None) -> None:
    """Start no new trial of the running job; it pauses once its running trials end."""
    _pausable(job)
    if not lifecycle.request_pause(job, actor):
        raise Conflict(f"job {job.id} is {job.status}: only a running job can be paused")


def resume_job(job: Job, actor=None) -> None:
    """Queue the paused job again; any worker runs it on from its study (the sampler reads
    the trials so far)."""
    _pausable(job)
    with transaction.atomic():
        check_active_jobs(job.owner)
        if not lifecycle.resume(job, actor):
            raise Conflict(f"job {job.id} is {job.status}: only a paused job can be resumed")
        dispatch.dispatch_on_commit()


def extend_job(job: Job, n_trials: int = 0, seconds: int = 0, actor=None) -> None:
    """n_trials more trials and/or `seconds` more time (an HPO job's time_budget_s, a NAS
    search's timeout_s) for a paused or finished job: a paused one runs them once resumed,
    a finished one is queued again at once."""
    kind = _able(job, "extendable", "extended")
    if not (n_trials or seconds):
        raise Invalid(
            "give more trials, more seconds or both",
            {"n_trials": ["n_trials or seconds is required"]},
        )
    if job.status not in (Job.Status.PAUSED, *Job.FINISHED):
        field = "n_trials" if n_trials else "seconds"
        raise Conflict(
            f"job {job.id} is {job.status}: pause it first, then extend it",
            {field: ["the job must be paused or finished"]},
        )
    with transaction.atomic():
        if job.is_finished:
            check_active_jobs(job.owner)
            if not lifecycle.reopen(job.id):
                raise Conflict(f"job {job.id} is no longer finished")
            dispatch.dispatch_on_commit()
        kind.extend(job, n_trials, seconds)
        given = {"n_trials": n_trials, "seconds": seconds}
        audit.record(job, actor, {key: [None, f"+{n}"] for key, n in given.items() if n})


CURATED = ("notes", "tags", "excluded", "exclude_reason")


def curate_trial(trial: Trial, actor, **changes) -> Trial:
    """Set a trial's notes, tags or exclusion (an exclusion needs a reason), audited. An
    exclusion changed on a finished job recomputes what depends on which trials count."""
    wanted = {field: changes.get(field, getattr(trial, field)) for field in CURATED}
    if wanted["excluded"] and not str(wanted["exclude_reason"]).strip():
        raise Invalid(
            "say why the trial is excluded",
            {"exclude_reason": ["required when excluded is true"]},
        )
    if not wanted["excluded"]:
        wanted["exclude_reason"] = ""
    diff = {f: [getattr(trial, f), wanted[f]] for f in CURATED if getattr(trial, f) != wanted[f]}
    if not diff:
        return trial
    with transaction.atomic():
        Trial.objects.filter(id=trial.id).update(**wanted)
        audit.record(trial, actor, diff)
    if "excluded" in diff:
        kinds.get(trial.job.kind).curated(trial.job)
    trial.refresh_from_db()
    return trial


def reconcile(queued_after_s: float, stale_after_s: float) -> dict[str, int]:
    """Send again what the broker may have lost, and dispatch what is due; Postgres is the
    truth.

    - a job sent to the broker more than `queued_after_s` ago and still queued gets its
      run_job again (a duplicate is harmless: the job is claimed with a conditional
      update), at most once per `queued_after_s`; jobs the scheduler holds back are not
      the broker's to lose;
    - a running job whose heartbeat is older than `stale_after_s` has lost every runner
      (a worker machine died with the message unacknowledged): it gets one new runner,
      which resumes the study where the dead ones left it.
    """
    now = timezone.now()
    queued = list(
        Job.objects.filter(
            status=Job.Status.QUEUED, dispatched_at__lt=now - timedelta(seconds=queued_after_s)
        )
    )
    for job in queued:
        enqueue(job)
    # Counted again from now: a job waiting its turn behind busy workers is sent once per
    # period, not once more on every pass.
    Job.objects.filter(id__in=[job.id for job in queued]).update(dispatched_at=now)
    stale = list(
        Job.objects.filter(
            status=Job.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale_after_s)
        )
    )
    for job in stale:
        # Refresh the heartbeat so the next pass does not pile up more runners.
        Job.objects.filter(id=job.id).update(heartbeat_at=now)
        run_trials.apply_async((job.id, 0), queue=job.queue)
    return {
        "requeued": len(queued),
        "resumed": len(stale),
        "dispatched": len(dispatch.dispatch()),
    }
