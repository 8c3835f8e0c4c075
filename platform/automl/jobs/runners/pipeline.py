"""Pipelines: one job that takes a model from a search (or a registered version) through
compression, a gate, the registry and a deployment (workers/pipeline/config.py).

A pipeline never trains anything itself. Search and compression stages are child jobs
(Job.parent) submitted like any other job, so each has its own page, trials and limits;
gate, register and deploy stages run inline, in a few seconds. The pipeline is advanced
by `advance()`, which is idempotent and runs whenever something may have changed:

- when a worker starts it (run_job → start);
- when one of its children ends (lifecycle wakes the parent: run_trials → run);
- when its cancel is asked for, and on the reconciler's pass over stale running jobs.

`advance()` takes the job's closing mark (lifecycle.start_closing) as a lock, so two
wake-ups at once cannot both submit the next stage. Its state lives in `Job.result`:
{"stages": [{"type", "label", "status", "job", "model_version", "detail", "checks"}...],
 "current": index of the stage under way, "model_version": the model so far}.
A failed stage fails the pipeline with the reason (a gate: each condition with its value);
`retry_from()` runs a failed or cancelled pipeline again from any stage up to the one that
failed, keeping what the stages before it made.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from automl.errors import ServiceError
from automl.jobs import kinds, lifecycle
from automl.jobs.kinds import JobKind
from automl.jobs.models import Job
from workers.config import MAX_PARALLELISM, ConfigError

log = logging.getLogger(__name__)

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)


class StageFailed(Exception):
    """A stage could not do its work: the message says why, `checks` a gate's answers."""

    def __init__(self, message: str, checks: list[dict] | None = None) -> None:
        super().__init__(message)
        self.checks = checks or []


class Pipeline(JobKind):
    noun = "pipeline"
    form_path = "automl.jobs.forms.PipelineForm"
    config_path = "workers.pipeline.config.PipelineConfig"
    platform_keys = frozenset()
    orchestrates = True

    # --- submission

    def validate(self, config, *, dataset, task, owner, parallelism, errors) -> dict:
        from workers.pipeline.config import validate_pipeline_config

        typed = validate_pipeline_config(config)
        out = typed.to_json()
        start = None
        if typed.model_version is not None:
            from automl.registry.models import ModelVersion

            start = ModelVersion.objects.filter(owner=owner, id=typed.model_version).first()
            if start is None:
                errors["config.model_version"] = (
                    f"model version {typed.model_version} does not exist"
                )
        if typed.deployment is not None:
            from automl.serving.models import Deployment

            if not Deployment.objects.filter(owner=owner, id=typed.deployment).exists():
                errors["config.deployment"] = f"deployment {typed.deployment} does not exist"
        for i, stage in enumerate(typed.stages):
            if stage.type == "search":
                out["stages"][i]["config"] = _search_config(
                    stage, i, dataset=dataset, owner=owner, errors=errors
                )
            elif stage.type == "compression":
                _check_compression(stage, i, task=start.task if start else task, errors=errors)
        return out

    # --- the worker

    def start(self, job: Job) -> int:
        advance(job.id)
        return 0

    def run(self, job: Job, runner: int) -> None:
        advance(job.id)

    def retry_from(self, job: Job, stage: object) -> None:
        from automl.errors import Invalid

        state = job.result or {}
        stages = state.get("stages") or []
        first_unfinished = next(
            (i for i, s in enumerate(stages) if s["status"] != SUCCEEDED), len(stages)
        )
        if type(stage) is not int or not 0 <= stage <= min(first_unfinished, len(stages) - 1):
            raise Invalid(
                f"stage: {stage!r} is not a stage to continue from",
                {"stage": [f"a stage number from 0 to {first_unfinished} (the one that stopped)"]},
            )
        for record in stages[stage:]:
            if record["status"] != PENDING:
                record.setdefault("earlier", []).append(
                    {k: record[k] for k in ("status", "job", "model_version", "detail")}
                )
            record.update(status=PENDING, job=None, model_version=None, detail="", checks=[])
        state["current"] = stage
        state["model_version"] = (
            stages[stage - 1]["model_version"] if stage else job.config.get("model_version")
        )
        Job.objects.filter(id=job.id).update(result=state)

    # --- the job page

    def metrics(self, job: Job) -> list[str]:
        return ["value"]

    def figures(self, job, trials, metrics):
        from automl.jobs import charts

        return [charts.pipeline_graph(self.stage_rows(job))]

    def stage_rows(self, job: Job) -> list[dict]:
        """Each stage with its status, child job and model, the child's live status read
        from its row (the pipeline's own record is updated when it wakes)."""
        stages = (job.result or {}).get("stages") or []
        children = dict(
            Job.objects.filter(id__in=[s["job"] for s in stages if s.get("job")]).values_list(
                "id", "status"
            )
        )
        rows = []
        for i, stage in enumerate(stages):
            status = stage["status"]
            if status == RUNNING and stage.get("job") in children:
                status = children[stage["job"]]
            rows.append({**stage, "number": i, "status": status})
        return rows


def _search_config(stage, i: int, *, dataset, owner, errors: dict) -> dict | None:
    """The search stage's config checked by its kind's validator (defaults filled in);
    problems go into `errors` under config.stages.<i>.config."""
    from automl.datasets.services import job_task

    prefix = f"config.stages.{i}.config"
    config = dict(stage.options.config)
    parallelism = config.pop("parallelism", 1)
    if "warm_start_from" in config:
        errors[f"{prefix}.warm_start_from"] = "not in a pipeline: its search starts afresh"
        config.pop("warm_start_from")
    if type(parallelism) is not int or not 1 <= parallelism <= MAX_PARALLELISM:
        errors[f"{prefix}.parallelism"] = f"must be a whole number from 1 to {MAX_PARALLELISM}"
    task, found = job_task(dataset, config)
    checked, problems = kinds.get(stage.options.kind).checked(
        config, dataset=dataset, task=task, owner=owner, parallelism=parallelism
    )
    found.update(problems)
    errors.update({_moved(k, prefix): v for k, v in found.items()})
    if checked is not None:
        checked["parallelism"] = parallelism
    return checked


def _moved(path: str, prefix: str) -> str:
    """A child validator's "config.x" path as the pipeline's "config.stages.i.config.x"."""
    if path == "config":
        return prefix
    return prefix + path[len("config") :] if path.startswith("config.") else path


def _check_compression(stage, i: int, *, task: str | None, errors: dict) -> None:
    """The compression steps checked now (the model to compress is known only once the
    stage before has made it; its own checks run when the stage is submitted)."""
    from workers.compression.config import validate_compression_config

    config = {**stage.options.config, "model_version": 1}
    try:
        validate_compression_config(config, task=task or "classification")
    except ConfigError as exc:
        prefix = f"config.stages.{i}.config"
        errors.update({f"{prefix}.{p}".rstrip("."): m for p, m in exc.errors.items()})


# --- advancing


def _initial_state(job: Job, config) -> dict:
    return {
        "stages": [
            {
                "type": stage.type,
                "label": stage.label(),
                "status": PENDING,
                "job": None,
                "model_version": None,
                "detail": "",
                "checks": [],
            }
            for stage in config.stages
        ],
        "current": 0,
        "model_version": config.model_version,
    }


def _save(job_id: int, state: dict) -> None:
    done = sum(s["status"] == SUCCEEDED for s in state["stages"])
    Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(
        result=state, progress=done / max(1, len(state["stages"])), heartbeat_at=timezone.now()
    )


def advance(job_id: int) -> None:
    """Move the pipeline on as far as it can go now (module docstring)."""
    # A child that ended while this process held the mark woke nobody (its wake-up found
    # the mark taken): look again after letting go, a few times at most.
    for _ in range(3):
        if not lifecycle.start_closing(job_id):
            return  # another process is advancing it; it will see what this one would
        try:
            _advance(job_id)
        except Exception as exc:  # a bug or a lost service: the pipeline fails saying so
            log.exception("pipeline %s", job_id)
            lifecycle.transition(
                job_id, Job.Status.FAILED, error_message=f"{type(exc).__name__}: {exc}"
            )
        finally:
            Job.objects.filter(id=job_id).update(closing_at=None)
        if not _child_ended(job_id):
            return


def _child_ended(job_id: int) -> bool:
    """The running pipeline's current stage is a child job that has ended."""
    state = (
        Job.objects.filter(id=job_id, status=Job.Status.RUNNING)
        .values_list("result", flat=True)
        .first()
    )
    stages = (state or {}).get("stages") or []
    current = (state or {}).get("current", 0)
    child = stages[current].get("job") if current < len(stages) else None
    return child is not None and Job.objects.filter(id=child, status__in=Job.FINISHED).exists()


def _advance(job_id: int) -> None:
    job = Job.objects.select_related("owner", "dataset").get(id=job_id)
    config = Pipeline().typed_config(job)
    state = job.result if (job.result or {}).get("stages") else _initial_state(job, config)
    while True:
        job.refresh_from_db(fields=["cancel_requested", "status"])
        if job.status != Job.Status.RUNNING:
            return
        i = state["current"]
        if i >= len(config.stages):
            lifecycle.transition(job_id, Job.Status.SUCCEEDED, result=state)
            return
        stage, record = config.stages[i], state["stages"][i]
        if job.cancel_requested:
            _cancel(job, state, record)
            return
        try:
            if stage.is_child_job:
                model = _child_stage(job, config, stage, record, state["model_version"])
                if model is None:  # the child is queued or running: its end wakes us
                    _save(job_id, state)
                    return
            else:
                record["status"] = RUNNING
                model = INLINE[stage.type](job, config, stage, record, state["model_version"])
        except StageFailed as exc:
            record.update(status=FAILED, detail=str(exc), checks=exc.checks or record["checks"])
            _tell_deployment(job, config, stage, record, None)
            lifecycle.transition(
                job_id,
                Job.Status.FAILED,
                result=state,
                error_message=f"stage {i + 1} ({stage.label()}) failed: {exc}",
            )
            return
        record.update(status=SUCCEEDED, model_version=model)
        state.update(current=i + 1, model_version=model)
        _save(job_id, state)
        _tell_deployment(job, config, stage, record, model)


def _tell_deployment(job: Job, config, stage, record: dict, model: int | None) -> None:
    """A re-tune's stage outcome, as an entry of its deployment's activity log."""
    if config.deployment is None or (stage.type == "search" and model is not None):
        return  # the search's outcome is the registered challenger, logged next
    from automl.monitoring import activity
    from automl.monitoring.models import Activity
    from automl.serving.models import Deployment

    deployment = Deployment.objects.filter(id=config.deployment).first()
    if deployment is None:
        return
    kind = {
        "register": Activity.Kind.CHALLENGER_REGISTERED,
        "challenge": Activity.Kind.COMPARED,
    }.get(stage.type)
    if model is None:  # failed: the re-tune stops here
        kind, message = Activity.Kind.RETUNE_STOPPED, f"{stage.label()}: {record['detail']}"
    elif kind is None:
        return
    else:
        message = record["detail"]
    details = {"stage": stage.type, "model_version": model, **record.get("comparison", {})}
    activity.record(deployment, kind, message, details=details, job=job)


def _cancel(job: Job, state: dict, record: dict) -> None:
    """Cancel the running stage's child; the pipeline ends cancelled once it has ended."""
    child = Job.objects.filter(id=record.get("job")).first()
    if child is not None and not child.is_finished:
        lifecycle.request_cancel(child)
        child.refresh_from_db(fields=["status"])
        if not child.is_finished:
            return  # its end wakes the pipeline again
    if record["status"] in (PENDING, RUNNING):
        record["status"] = CANCELLED
    lifecycle.transition(job.id, Job.Status.CANCELLED, result=state)


def _child_stage(job: Job, config, stage, record: dict, model: int | None) -> int | None:
    """The model version the stage's child job made; None while it runs (submitting it
    first if it has no child yet)."""
    from automl.registry.models import ModelVersion

    if record.get("job") is None:
        child = _submit_child(job, config, stage, model)
        record.update(status=RUNNING, job=child.id)
        return None
    child = Job.objects.get(id=record["job"])
    if not child.is_finished:
        return None
    if child.status != Job.Status.SUCCEEDED:
        raise StageFailed(
            f"its job {child.id} {child.status}"
            + (f": {child.error_message}" if child.error_message else "")
        )
    # The newest version the child registered: a search's best model, a chain's last step.
    made = ModelVersion.objects.filter(job=child).order_by("-id").first()
    if made is None:
        registry_error = (child.result or {}).get("refit", {}).get("registry_error")
        raise StageFailed(
            f"its job {child.id} registered no model"
            + (f" ({registry_error})" if registry_error else "")
        )
    return made.id


def _submit_child(job: Job, config, stage, model: int | None) -> Job:
    from automl.jobs.services import submit_job
    from automl.registry.models import ModelVersion

    if stage.type == "search":
        kind, child_config = stage.options.kind, stage.options.config
        # The search registers its model under the pipeline's registry name.
        name = config.model_name or job.name
    else:
        kind = "compression"
        source = ModelVersion.objects.get(id=model)
        child_config, errors = kinds.get(kind).checked(
            {**stage.options.config, "model_version": model},
            dataset=job.dataset,
            task=source.task,
            owner=job.owner,
            parallelism=None,
        )
        if errors:
            raise StageFailed("; ".join(f"{k}: {v}" for k, v in errors.items()))
        child_config["parallelism"] = 1
        name = f"{job.name}: compression of {source}"
    try:
        return submit_job(
            job.owner,
            kind=kind,
            name=name,
            dataset=job.dataset,
            config=child_config,
            resources=job.resources,
            priority=job.priority,
            parent=job,
        )
    except ServiceError as exc:  # over the owner's limit of active jobs, say
        raise StageFailed(exc.detail) from None


# --- the stages that run inline


def _version(model: int):
    from automl.registry.models import ModelVersion

    return ModelVersion.objects.select_related("parent", "owner", "job").get(id=model)


def _gate(job: Job, config, stage, record: dict, model: int) -> int:
    from workers.pipeline.gate import Facts, judge_all

    version = _version(model)
    batches = {c.options.batch_size for c in stage.conditions if c.check == "latency"}
    facts = Facts(
        metrics=version.metrics or {},
        parent_metrics=_parent_metrics(version),
        size_bytes=version.size,
        latency_ms={b: _latency(job, config, version, b) for b in sorted(batches)},
    )
    checks = judge_all(stage.conditions, facts)
    record["checks"] = checks
    if failed := [c for c in checks if not c["passed"]]:
        raise StageFailed("; ".join(_failure(c) for c in failed), checks)
    return model


def _parent_metrics(version) -> dict | None:
    """The metrics of the model `version` was compressed from (through a whole chain of
    one job), as the compression job measured it on the same held-out rows, over what the
    registry holds for it; None for a model derived from nothing."""
    if version.parent is None:
        return None
    source = version.parent
    while version.job_id and source.job_id == version.job_id and source.parent is not None:
        source = source.parent
    measured = ((version.job.result or {}).get("original") or {}) if version.job else {}
    return {**(source.metrics or {}), **measured}


def _failure(check: dict) -> str:
    if check["value"] is None:
        return f"{check['condition']}: {check['why']}"
    return f"{check['condition']} not met (found {check['value']:.6g})"


def _latency(job: Job, config, version, batch: int) -> float:
    """Median ms of one predict call of `batch` rows of the pipeline's data set."""
    from automl.datasets.services import training_data
    from automl.serving.loader import load
    from workers.pipeline.gate import batch_latency_ms

    source = config.search.options.config if config.search else (version.config or {})
    data = training_data(job.dataset, source)
    loaded = load(version)
    return batch_latency_ms(loaded.predict, data.X[:batch], batch)


def _register(job: Job, config, stage, record: dict, model: int) -> int:
    from automl.registry import aliases, services

    version = _version(model)
    done = []
    try:
        if stage.options.stage:
            services.set_stage(version, stage.options.stage, job.owner)
            done.append(f"stage {stage.options.stage}")
        if stage.options.alias:
            aliases.set_alias(version, stage.options.alias, job.owner)
            done.append(f"alias {stage.options.alias}")
    except ServiceError as exc:
        raise StageFailed(exc.detail) from None
    record["detail"] = f"{version}: {', '.join(done)}"
    return model


def _deploy(job: Job, config, stage, record: dict, model: int) -> int:
    from automl.serving import traffic
    from automl.serving.models import Deployment

    version = _version(model)
    name, share = stage.options.deployment, stage.options.share
    follows = stage.options.follows or ""
    existing = Deployment.objects.filter(owner=job.owner, name=name).first()
    try:
        if existing is None:
            if share < 1:
                raise StageFailed(
                    f"there is no deployment {name!r} to give a {share:.0%} canary share; "
                    "share 1 creates it"
                )
            traffic.create_deployment(
                job.owner,
                name=name,
                model_name=version.name,
                routes=[{"version": version.id, "weight": 100}],
                follows=follows,
            )
            record["detail"] = f"created deployment {name} serving {version}"
            return model
        if existing.model_name != version.name:
            raise StageFailed(
                f"deployment {name!r} serves {existing.model_name}, not {version.name}"
            )
        routes = canary_routes(existing.routes, version.id, share)
        shadow = None if existing.shadow_id == version.id else existing.shadow_id
        deployment = traffic.set_traffic(existing, routes, shadow, job.owner)
        if follows:
            traffic.set_follows(deployment, follows, job.owner)
    except ServiceError as exc:
        raise StageFailed(exc.detail) from None
    record["detail"] = f"{version} takes {share:.0%} of deployment {name}"
    return model


def canary_routes(routes: list[dict], version: int, share: float) -> list[dict]:
    """The split with `version` taking `share` (0-1] of the traffic and the other routes
    the rest, in their old proportions."""
    others = [r for r in routes if r["version"] != version]
    total = sum(r["weight"] for r in others)
    if share >= 1 or not total:
        return [{"version": version, "weight": 100.0}]
    rest = [
        {"version": r["version"], "weight": 100 * (1 - share) * r["weight"] / total}
        for r in others
    ]
    return [*rest, {"version": version, "weight": 100 * share}]


def _owned_deployment(job: Job, name: str):
    from automl.serving.models import Deployment

    deployment = Deployment.objects.filter(owner=job.owner, name=name).first()
    if deployment is None:
        raise StageFailed(f"there is no deployment {name!r}")
    return deployment


def _challenge(job: Job, config, stage, record: dict, model: int) -> int:
    """The model against the deployment's champion on held-out labelled recent rows; the
    pipeline stops here unless it wins (automl.monitoring.retune.challenge)."""
    from automl.monitoring import retune

    o = stage.options
    try:
        result = retune.challenge(
            _owned_deployment(job, o.deployment),
            _version(model),
            hours=o.hours,
            min_rows=o.min_rows,
            significance=o.significance,
            require_significant=o.require_significant,
        )
    except ServiceError as exc:
        raise StageFailed(exc.detail) from None
    record["comparison"] = result
    if not result["wins"]:
        why = "not better" if not _better(result) else f"not significant at {o.significance}"
        record["detail"] = f"the challenger does not win ({why}): {result['says']}"
        raise StageFailed(record["detail"])
    record["detail"] = f"the challenger wins: {result['says']}"
    return model


def _better(result: dict) -> bool:
    if result["metric"] == "mae":
        return result["challenger_score"] < result["champion_score"]
    return result["challenger_score"] > result["champion_score"]


INLINE: dict[str, Any] = {
    "gate": _gate,
    "register": _register,
    "deploy": _deploy,
    "challenge": _challenge,
}
