"""Hyperparameter search: an Optuna study shared by `parallelism` trial runners.

run_job creates the study once and sends out the runners, which any worker may take. The
runner that finds the study done closes the job: it syncs the trials, refits the best
model, registers it and sets the final status.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict

from django.conf import settings
from django.utils import timezone

from automl.errors import Conflict
from automl.jobs import lifecycle, studies
from automl.jobs.kinds import JobKind
from automl.jobs.models import Job, Trial
from automl.jobs.reporter import heartbeat
from automl.jobs.runners.base import artifact_dir, fail, load_data, reporter_for
from automl.jobs.studies import study_storage
from automl.jobs.worker import trial_hard_stop
from workers.trial_log import log_context

log = logging.getLogger(__name__)


class HPO(JobKind):
    noun = "HPO"
    form_path = "automl.jobs.forms.HpoForm"
    config_path = "workers.hpo.config.HPOConfig"
    platform_keys = frozenset({"parallelism", "warm_start_from"})
    continuable = True
    param_columns = True
    cross_validates = True
    reruns_failed = True
    pausable = True
    registers_best_so_far = True
    extendable = True

    def validate(self, config, *, dataset, task, owner, parallelism, errors) -> dict:
        from workers.hpo.config import validate_hpo_config

        return validate_hpo_config(config, task).to_json()

    def register_best(self, job: Job) -> None:
        register_best(job)

    def start(self, job: Job) -> int:
        from workers.hpo import engine

        try:
            config = job.typed_config
            storage = study_storage(job)
            engine.create_study(config, storage, job.study_name)
            studies.label(job, storage, config.objectives)
        except Exception as exc:
            fail(job.id, exc)
            return 0
        return config.parallelism

    def run(self, job: Job, runner: int) -> None:
        from workers.hpo import engine
        from workers.studies.heartbeat import wait_for_runners

        stale_after_s = settings.TRIAL_STALE_AFTER_S
        reporter = reporter_for(job)
        storage = study_storage(job)
        try:
            with heartbeat(job.id), log_context(job=job.id):
                config = job.typed_config
                data = load_data(job)
                engine.run_trials(
                    config,
                    data,
                    reporter,
                    storage,
                    job.study_name,
                    runner=runner,
                    stale_after_s=stale_after_s,
                    max_trial_s=settings.TRIAL_MAX_S,
                    hard_stop=trial_hard_stop(),
                )
                wait_for_runners(storage, job.study_name, stale_after_s)
                close(job, config, data, storage)
        except Exception as exc:
            fail(job.id, exc)

    def rerun(self, job: Job, trials: dict[int, dict]) -> None:
        from workers.hpo import engine

        engine.rerun_trials(study_storage(job), job.study_name, trials)

    def extend(self, job: Job, n_trials: int, seconds: int) -> None:
        """More trials on the study's budget; more seconds on the config's time_budget_s
        (its clock stopped when the job paused or finished, so they all run)."""
        from workers.hpo import engine

        config = self.more_time(job, job.config, "time_budget_s", seconds) if seconds else None
        try:
            engine.extend_budget(study_storage(job), job.study_name, n_trials)
        except KeyError:  # Optuna's "Record does not exist": it ended before its first trial
            field = "n_trials" if n_trials else "seconds"
            raise Conflict(
                f"job {job.id} has no study to extend: it ended before its first trial; "
                "run it again instead",
                {field: ["the job ran no trial"]},
            ) from None
        if config is not None:
            Job.objects.filter(id=job.id).update(config=config)

    def curated(self, job: Job) -> None:
        """The best trial and importances of a finished job, again without the trials now
        excluded. The refit model stays the one fitted when it closed (refit.trial)."""
        from workers.hpo import engine

        if not job.is_finished or not job.study_name:
            return
        found = engine.summarize(
            job.typed_config,
            study_storage(job),
            job.study_name,
            allow_empty=True,
            exclude=excluded_numbers(job),
        )
        before = job.result or {}
        result = {**before, **asdict(found), "stopped": before.get("stopped", False)}
        Job.objects.filter(id=job.id).update(result=result)

    def metrics(self, job: Job) -> list[str]:
        return job.typed_config.objectives

    def direction(self, job: Job) -> str:
        return job.typed_config.directions[0]

    def figures(self, job, sample, metrics):
        from automl.jobs import charts

        result = job.result or {}
        by_family = result.get("importances_by_family") or {}
        return [
            *super().figures(job, sample, metrics),
            charts.importances(result.get("importances") or {}),
            *(
                charts.importances(found, f"Parameter importances within {family} (fANOVA)")
                for family, found in by_family.items()
            ),
        ]

    def search_importances(self, job: Job) -> dict:
        return (job.result or {}).get("importances") or {}


def close(job: Job, config, data, storage) -> None:
    from automl.registry.services import register_job_result
    from workers.hpo import engine

    if not lifecycle.start_closing(job.id):
        return  # another runner is closing it
    sync_trials(job, storage)
    # The search is over (paused or done): its time budget does not count the wait until
    # a resume, or an extend of the finished job.
    engine.stop_budget(storage, job.study_name)
    if lifecycle.pause(job.id):
        return  # its study is kept as it is: resume() runs it on from there
    cancelled = Job.objects.filter(id=job.id, cancel_requested=True).exists()
    excluded = excluded_numbers(job)
    result = engine.summarize(
        config, storage, job.study_name, allow_empty=cancelled, exclude=excluded
    )
    result.stopped = cancelled
    summary = asdict(result)
    if cancelled:
        lifecycle.transition(job.id, Job.Status.CANCELLED, result=summary)
        return
    summary["refit"] = engine.refit_best(
        config, data, storage, job.study_name, directory=artifact_dir(job), exclude=excluded
    )
    registered = summary["refit"]
    if summary["refit"] and config.ensemble.enabled:
        summary["ensemble"] = _ensemble(job, config, data, storage, summary["refit"], excluded)
        summary["leaderboard"] = summary["ensemble"].pop("leaderboard", [])
        if summary["ensemble"].get("chosen") == "ensemble":  # its files replaced the best's
            registered = _as_refit(summary["ensemble"], summary["refit"])
    summary["budget"] = engine.budget_used(config, storage, job.study_name)
    if registered:
        registered.update(register_job_result(job, artifact_dir(job), registered))
        if registered is not summary["refit"]:
            summary["ensemble"]["model_version"] = registered.get("model_version")
            summary["refit"]["model_version"] = registered.get("model_version")
    lifecycle.transition(job.id, Job.Status.SUCCEEDED, result=summary)
    if version_id := summary["refit"].get("model_version"):
        # After the transition: the report reads the job's result (its importances).
        evaluate_new_version(version_id)


def _ensemble(job: Job, config, data, storage, refit: dict, excluded: list[int]) -> dict:
    """The ensemble of the job's best trials (workers/hpo/ensemble.py), within what is left
    of its time budget; {} with why when it could not be built (the single best stands)."""
    from workers.hpo import engine, ensemble

    try:
        return ensemble.build(
            config,
            data,
            storage,
            job.study_name,
            refit,
            directory=artifact_dir(job),
            exclude=tuple(excluded),
            deadline=engine.budget_deadline(config, storage, job.study_name),
        )
    except Exception as exc:  # the search succeeded: its best model is still registered
        log.exception("job %s: the ensemble could not be built", job.id)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _as_refit(found: dict, single: dict) -> dict:
    """What registration reads for an ensemble that beat the single best (its lineage:
    every member's trial, family, params and weight)."""
    best = max(found["members"], key=lambda m: m["weight"])
    return {
        **single,
        "trial": best["trial"],
        "family": "ensemble",
        "params": {"method": found["method"], "members": found["members"]},
        "test_metrics": found["test_metrics"],
        "files": found.get("files", []),
    }


def excluded_numbers(job: Job) -> list[int]:
    return list(Trial.objects.filter(job=job, excluded=True).values_list("number", flat=True))


def sync_trials(job: Job, storage) -> None:
    """Make the Trial rows match the study: trials failed for a lost worker included."""
    import optuna

    from workers.studies.budget import NAMES, STATES, counts
    from workers.studies.heartbeat import FAILURE_CLASS

    states = {state: Trial.State(NAMES[state]) for state in STATES.values()}
    rows = {t.number: t for t in Trial.objects.filter(job=job).only("number", "state")}
    study = optuna.load_study(study_name=job.study_name, storage=storage)
    for trial in study.get_trials(deepcopy=False, states=tuple(states)):
        row = rows.get(trial.number)
        if not counts(trial) or trial.system_attrs.get("warm_start"):
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
                "failure_class": trial.system_attrs.get(FAILURE_CLASS, ""),
                # Optuna keeps naive local times; astimezone() reads them as local.
                "finished_at": trial.datetime_complete.astimezone(dt.UTC)
                if trial.datetime_complete
                else timezone.now(),
            },
        )


def register_best(job: Job) -> None:
    """What close() registers, for a job that ended without it (failed or cancelled): the
    best finished trial refit on every search row, scored on the test rows, registered
    with the job as its lineage. The job keeps its status; its result gains the refit."""
    from automl.registry.services import register_job_result
    from workers.hpo import engine

    config = HPO().typed_config(job)
    refit = engine.refit_best(
        config,
        load_data(job),
        study_storage(job),
        job.study_name,
        directory=artifact_dir(job),
        exclude=excluded_numbers(job),
    )
    if not refit:
        return  # no finished trial (the service checked; trials can be excluded since)
    refit.update(register_job_result(job, artifact_dir(job), refit))
    Job.objects.filter(id=job.id).update(result={**(job.result or {}), "refit": refit})
    if version_id := refit.get("model_version"):
        evaluate_new_version(version_id)


def evaluate_new_version(version_id: int) -> None:
    """Queue the evaluation report of a just-registered version, once."""
    from automl.evaluation.services import queue_first_evaluation

    try:
        queue_first_evaluation(version_id)
    except Exception:  # the job succeeded; its report can still be asked for by POST
        log.exception("version %s: its evaluation could not be queued", version_id)
