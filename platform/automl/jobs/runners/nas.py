"""Architecture search: one worker runs the whole search (parallelism 1), or `parallelism`
candidate runners share one Optuna study (evolution and random search), the last to
finish retraining the best architecture and closing the job."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from automl.errors import Conflict
from automl.jobs import lifecycle, studies
from automl.jobs.kinds import JobKind
from automl.jobs.models import Job, Trial
from automl.jobs.reporter import heartbeat
from automl.jobs.runners.base import (
    artifact_dir,
    engine_result,
    fail,
    load_data,
    reporter_for,
    worker_name,
)
from automl.jobs.studies import study_storage


class NAS(JobKind):
    noun = "NAS"
    form_path = "automl.jobs.forms.NasForm"
    config_path = "workers.nas.config.NASConfig"
    pausable = True
    extendable = True
    trials_noun = "candidates"

    def validate(self, config, *, dataset, task, owner, parallelism, errors) -> dict:
        from workers.nas.config import data_kind_of, parallelism_problem, validate_nas_config

        kind = data_kind_of(dataset.builtin_name, getattr(dataset, "data_kind", ""))
        typed = validate_nas_config(config, kind, task=task, n_features=dataset.n_features or None)
        if problem := parallelism_problem(typed, parallelism):
            errors["config.parallelism"] = problem
        return typed.to_json()

    def rebuilt(self, job: Job, config: dict):
        return self.config_class.from_json(config, n_features=job.dataset.n_features or None)

    def start(self, job: Job) -> int:
        from workers.nas import parallel

        try:
            parallelism = job.typed_config.parallelism
            if parallelism > 1:
                storage = study_storage(job)
                parallel.create_study(storage, job.study_name)
                studies.label(job, storage, ["score"])
        except Exception as exc:
            fail(job.id, exc)
            return 0
        if parallelism <= 1:
            run_search(job.id)
            return 0
        return parallelism

    def extend(self, job: Job, n_trials: int, seconds: int) -> None:
        """Raise the strategy's candidate count (evolution: its cycles) and/or the search's
        timeout_s in the job's stored config: a resumed or reopened search replays its
        trials and trains n_trials more candidates. DARTS refuses (Strategy.not_extendable
        says why)."""
        from workers.nas.strategies import STRATEGIES

        if refused := self.extend_refused(job):
            raise Conflict(refused, {"n_trials" if n_trials else "seconds": [refused]})
        config = job.config
        if n_trials:
            stored = config["strategy"]
            key = STRATEGIES[stored["name"]].budget_option
            config = {**config, "strategy": {**stored, key: stored[key] + n_trials}}
            config = self.within_bounds(
                job,
                config,
                f"strategy.{key}",
                "n_trials",
                f"{n_trials} more candidates are too many",
            )
        if seconds:
            config = self.more_time(job, config, "timeout_s", seconds)
        Job.objects.filter(id=job.id).update(config=config)

    def extend_refused(self, job: Job) -> str:
        from workers.nas.strategies import STRATEGIES

        strategy = STRATEGIES.get(job.config.get("strategy", {}).get("name"))
        if strategy is None:  # a config no submission stores (test rows)
            return "the job's config names no strategy"
        return "" if strategy.budget_option else strategy.not_extendable

    def run(self, job: Job, runner: int) -> None:
        # A parallel search's runner, or the reconciler's new runner for a job whose
        # worker died.
        if job.typed_config.parallelism > 1:
            run_candidates(job.id)
        else:
            run_search(job.id)

    def figures(self, job, sample, metrics):
        from automl.jobs import charts

        result = job.result or {}
        history, axes = result.get("alpha_history") or [], result.get("alpha_axes") or {}
        if not history:  # still searching: each DARTS epoch's trial carries its α
            history = sorted(
                (t["params"]["alphas"] for t in sample.trials if "alphas" in (t["params"] or {})),
                key=lambda epoch: epoch["epoch"],
            )
            axes = history[-1] if history else {}
        return [
            *super().figures(job, sample, metrics),
            charts.alpha_heatmap(history, axes, "normal"),
            charts.alpha_heatmap(history, axes, "reduce"),
            charts.genotype_graph(result.get("genotype") or {}),
        ]


def run_search(job_id: int) -> None:
    """Run a NAS job here: search, retrain the found architecture, save it, final status.

    A job resumed after a pause, or taken over after its worker died, goes on: the trials
    that worker had in flight fail, the sampling strategies (evolution, rl, random) replay
    the stored trials, and DARTS starts at the epoch after its checkpoint's.
    """
    from workers.failures import INFRASTRUCTURE
    from workers.nas import engine
    from workers.studies.heartbeat import LOST

    job = Job.objects.select_related("dataset").get(id=job_id)
    reporter = reporter_for(job)
    Trial.objects.filter(job_id=job_id, state=Trial.State.RUNNING).update(
        state=Trial.State.FAILED,
        error=LOST,
        failure_class=INFRASTRUCTURE,
        finished_at=timezone.now(),
    )
    history = [
        engine.candidate_from_trial(t.number, t.state, t.params, t.values)
        for t in Trial.objects.filter(job_id=job_id).order_by("number")
    ]
    result = engine_result(
        job,
        lambda data: engine.run_nas(
            job.typed_config,
            data,
            reporter,
            directory=artifact_dir(job),
            history=history,
            device=job.resources.get("device", "auto"),
            checkpoint_dir=job.checkpoint_dir,
        ),
    )
    if result is None:
        return
    if result.get("paused"):
        lifecycle.pause(job_id)  # its trials and checkpoint are kept: resume() goes on
        return
    finish(job, result)


def run_candidates(job_id: int) -> None:
    """One runner of a parallel NAS search: train candidates on the job's shared study
    until it is done, then close the job unless another runner does."""
    from workers.nas import parallel

    job = Job.objects.select_related("dataset").get(id=job_id)
    worker = worker_name()
    reporter = reporter_for(job)
    storage = study_storage(job)
    device = job.resources.get("device", "auto")
    try:
        with heartbeat(job_id):
            data = load_data(job)
            config = job.typed_config
            parallel.run_candidates(
                config,
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
            # The search is over (paused or done): its time limit does not count the
            # wait until a resume, or an extend of the finished job.
            parallel.stop_clock(storage, job.study_name)
            if lifecycle.pause(job_id):
                return  # its study is kept: resume() sends runners on from there
            stopped = Job.objects.filter(id=job_id, cancel_requested=True).exists()
            result = parallel.close(
                config,
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
    finish(job, result)


def finish(job: Job, result: dict) -> None:
    """Register the retrained model and set the final status of a NAS job."""
    from automl.registry.services import register_job_result

    if result["stopped"]:
        lifecycle.transition(job.id, Job.Status.CANCELLED, result=result)
        return
    model = {
        "trial": result["best"].get("number"),
        "params": result["genotype"],
        "test_metrics": result["retrain"].get("test_metrics"),
    }
    result["retrain"].update(register_job_result(job, artifact_dir(job), model))
    lifecycle.transition(job.id, Job.Status.SUCCEEDED, result=result)
