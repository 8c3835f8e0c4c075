"""Compression: a chain of steps on one of the owner's registered torch models, each
step's model registered as a version whose parent is the previous step's."""

from __future__ import annotations

from pathlib import Path

from automl.jobs import lifecycle
from automl.jobs.kinds import JobKind
from automl.jobs.models import Job
from automl.jobs.runners.base import artifact_dir, engine_result, fail, reporter_for


class Compression(JobKind):
    noun = "compression"
    form_path = "automl.jobs.forms.CompressionForm"
    config_path = "workers.compression.config.CompressionConfig"
    platform_keys = frozenset()
    pausable = True

    def validate(self, config, *, dataset, task, owner, parallelism, errors) -> dict:
        from workers.compression.config import validate_compression_config

        typed = validate_compression_config(same_test_rows(config, dataset, owner), task=task)
        own_models(typed, owner, errors)
        return typed.to_json()

    def start(self, job: Job) -> int:
        run_compression(job.id)
        return 0

    def run(self, job: Job, runner: int) -> None:
        # The reconciler's new runner for a job whose worker died: it goes on from the
        # chain's checkpoint, as a resumed job does.
        run_compression(job.id)

    def figures(self, job, sample, metrics):
        from automl.jobs import charts

        result = job.result or {}
        return [
            charts.compression_tradeoff(result, "file_bytes"),
            charts.compression_tradeoff(result, "latency_ms_b64"),
            charts.intermediate_values(sample.trials, metrics[0]),
        ]

    def report_rows(self, job: Job) -> list[dict]:
        """The original, then each step with its ratios to the original and the model
        version it registered."""
        from automl.jobs import charts

        if not job.result:
            return []
        steps = job.result.get("steps") or []
        rows = []
        for point in charts.compression_points(job.result):
            step = {} if point["step"] is None else steps[point["step"]]
            rows.append(
                {
                    **point,
                    **(step.get("relative") or {}),
                    "model_version": step.get("model_version"),
                }
            )
        return rows


def own_models(config, owner, errors: dict) -> None:
    """The input model and the extra teachers must be the owner's versions, of a kind the
    model-kind registry lets compression start from (its reason is the message)."""
    from automl.registry.models import ModelVersion
    from workers.models.kinds import refusal, technique_refusal

    # A teacher's logits are read like a compressed model's: the same capability.
    wanted = {"config.model_version": ([config.model_version], "be compressed")}
    if teachers := config.teacher_ids:
        wanted["config.steps"] = (teachers, "teach")
    for field, (ids, role) in wanted.items():
        found = {v.id: v for v in ModelVersion.objects.filter(owner=owner, id__in=ids)}
        if missing := [i for i in ids if i not in found]:
            errors[field] = f"model version {missing[0]} does not exist"
            continue
        for version in found.values():
            if reason := refusal(version.spec, "compress"):
                errors[field] = f"model version {version.id} cannot {role}: {reason}"
                break
    source = ModelVersion.objects.filter(owner=owner, id=config.model_version).first()
    if source is None or "config.model_version" in errors or not config.steps:
        return
    first = config.steps[0].technique
    if reason := technique_refusal(source.spec, first):
        errors["config.steps.0.technique"] = reason


def same_test_rows(config: object, dataset, owner) -> object:
    """Score compressed models on the rows their input model never trained on: on the
    input's own data set, the split settings default to those of the job that made it
    (the engines draw the same seeded, stratified test split from them)."""
    from automl.registry.models import ModelVersion

    if not isinstance(config, dict) or type(config.get("model_version")) is not int:
        return config
    source = (
        ModelVersion.objects.filter(owner=owner, id=config["model_version"])
        .select_related("job")
        .first()
    )
    job = source.job if source else None
    if job is None or job.dataset_id != dataset.id:
        return config
    inherited = {k: job.config[k] for k in ("test_size", "seed") if k in job.config}
    return {**inherited, **config}


def run_compression(job_id: int) -> None:
    """Run a compression job here: each step's model is saved under step-<i> beside
    artifact_dir(job) and registered as a version whose parent is the previous step's.

    A job resumed after a pause (or taken over after its worker died) starts at the first
    step its checkpoint has not done; the versions it registered stay, the last one the
    parent of the next. A step is registered once (register_model_directory looks it up
    by job and step), after its checkpoint: one whose worker died in between is
    registered by the next run, not run again."""
    from automl.registry.models import ModelVersion
    from automl.registry.services import register_model_directory
    from automl.registry.storage import get_storage
    from workers.compression import engine

    job = Job.objects.select_related("dataset").get(id=job_id)
    reporter = reporter_for(job)
    try:
        config = job.typed_config
    except Exception as exc:
        fail(job_id, exc)
        return
    source = ModelVersion.objects.get(id=config.model_version, owner=job.owner)
    storage = get_storage()
    teachers = {
        v.id: storage.local_dir(v.storage_key)
        for v in ModelVersion.objects.filter(owner=job.owner, id__in=config.teacher_ids)
    }
    # Steps are registered in chain order, a resumed chain's checkpointed ones again
    # (each finds its version): each step's parent is the one before it.
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

    result = engine_result(
        job,
        lambda data: engine.run_compression(
            config,
            storage.local_dir(source.storage_key),
            data,
            reporter,
            directory=artifact_dir(job).parent,
            teachers=teachers,
            on_step=on_step,
            device=job.resources.get("device", "auto"),
            checkpoint_dir=job.checkpoint_dir,
        ),
    )
    if result is None:
        return
    if result.get("paused"):
        lifecycle.pause(job_id, result=result)  # the steps so far show while it waits
        return
    status = Job.Status.CANCELLED if result["stopped"] else Job.Status.SUCCEEDED
    lifecycle.transition(job_id, status, result=result)
