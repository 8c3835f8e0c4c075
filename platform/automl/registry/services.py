"""The model repository's rules, in one place: registration, numbering, stages, import.

Views and the job runners call these; nothing else writes a ModelVersion.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from automl import audit
from automl.errors import Conflict, Invalid
from automl.registry import webhooks
from automl.registry.models import ModelVersion
from automl.registry.storage import get_storage
from workers.models.layout import MODEL_FILES
from workers.training.measure import median_ms

log = logging.getLogger(__name__)

Stage = ModelVersion.Stage

# Which stage may follow which. Production is reached only from none or staging: an
# archived version is brought back through staging first, so that it is looked at again.
TRANSITIONS: dict[str, set[str]] = {
    Stage.NONE: {Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED},
    Stage.STAGING: {Stage.NONE, Stage.PRODUCTION, Stage.ARCHIVED},
    Stage.PRODUCTION: {Stage.STAGING, Stage.ARCHIVED},
    Stage.ARCHIVED: {Stage.NONE, Stage.STAGING},
}

NUMBERING_ATTEMPTS = 10


# --- lineage helpers


@cache
def code_version() -> str:
    """AUTOML_CODE_VERSION if set (images built without .git), else the git commit."""
    if version := os.environ.get("AUTOML_CODE_VERSION"):
        return version
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.ROOT_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def model_name(text: str) -> str:
    """A registry name from free text: a slug of at most 100 characters."""
    return slugify(text)[:100].strip("-") or "model"


# --- reading a model directory


def _n_inputs(obj: Any) -> int | None:
    n = getattr(obj, "n_features_in_", None)
    return int(n) if n is not None else None


def _measure_latency(model: Any, transformer: Any, n_features: int | None) -> float | None:
    """Median milliseconds to predict one all-zero row, in process; None if not possible."""
    if not n_features:
        return None
    row = np.zeros((1, n_features))
    try:
        return median_ms(
            lambda: model.predict(row if transformer is None else transformer.transform(row)),
            repeats=7,
        )
    except Exception:  # a model whose preprocessing wants categories: no number, no failure
        return None


def describe_directory(directory: Path) -> dict:
    """Load and check a model directory; return the ModelVersion fields it determines.

    Raises:
        Invalid: the directory is not a loadable model (bad spec, hash mismatch,
            untrusted skops types, weights that do not fit the spec).
    """
    from workers.models.artifacts import ArtifactError, load_model, load_preprocessing
    from workers.models.kinds import kind_of

    directory = Path(directory)
    try:
        spec = json.loads((directory / "spec.json").read_text())
        kind = kind_of(spec)
        if not kind.loadable:  # kept as they are (a user's own files): nothing to load
            return _described_files(spec)
        model = load_model(directory)  # quantized ones too: the format knows them
        transformer = load_preprocessing(directory)
    except Exception as exc:
        # The files may come from an upload: whatever stops them loading (a bad header, a
        # refused type, weights that do not fit the spec) is the uploader's to fix.
        message = str(exc) if isinstance(exc, ArtifactError) else f"{type(exc).__name__}: {exc}"
        raise Invalid(f"not a loadable model: {message}", {"files": [message]}) from exc
    features = spec.get("features")
    if features is not None and (
        not isinstance(features, list)
        or not all(isinstance(f, str) for f in features)
        or len(set(features)) != len(features)
    ):
        raise Invalid(
            "spec.features must be a list of distinct column names",
            {"spec.features": ["must be a list of distinct strings"]},
        )
    widths = None  # how many columns spec.features may name
    if transformer is not None:
        n_features = _n_inputs(transformer)
    elif kind.framework == "torch":
        n_features, widths = kind.n_inputs(spec), kind.row_widths(spec)
    else:
        n_features = _n_inputs(model)
    if n_features is not None and widths is None:
        widths = {n_features}
    if features is not None and widths is not None and len(features) not in widths:
        raise Invalid(
            f"spec.features names {len(features)} columns, the model takes {n_features}",
            {"spec.features": [f"must name {n_features} columns"]},
        )
    classes = spec.get("classes")
    if classes is None and getattr(model, "classes_", None) is not None:
        classes = np.asarray(model.classes_).tolist()
    task = spec.get("task") or ("classification" if classes is not None else "regression")
    return {
        "framework": spec["framework"],
        "family": str(spec.get("family", ""))[:50],
        "task": task,
        "spec": spec,
        "features": features,
        "n_features": n_features,
        "classes": classes,
        "has_preprocessing": transformer is not None,
        "data_file": spec["file"],
        "sha256": spec["sha256"],
        "size": spec["size"],
        "latency_ms": _measure_latency(model, transformer, n_features),
    }


def _described_files(spec: dict) -> dict:
    """The ModelVersion fields of files the platform keeps but does not read."""
    return {
        "framework": spec["framework"],
        "family": "",
        "task": "",
        "spec": spec,
        "features": None,
        "n_features": None,
        "classes": None,
        "has_preprocessing": False,
        "data_file": spec["file"][:100],
        "sha256": spec["sha256"],
        "size": spec["size"],
        "latency_ms": None,
    }


# --- creating versions


def _next_number(owner, name: str) -> int:
    last = (
        ModelVersion.objects.filter(owner=owner, name=name)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    return (last or 0) + 1


def create_version(
    owner, directory: Path, *, name: str, source: str, **fields: Any
) -> ModelVersion:
    """Copy a model directory into the storage and record it as the next version of name.

    Numbers are taken as max + 1 under the unique (owner, name, version) constraint; a
    writer that loses a race retries with the next number.
    """
    described = describe_directory(directory)
    storage = get_storage()
    key = f"versions/{owner.pk}/{uuid.uuid4().hex}"
    storage.put_dir(Path(directory), key)
    try:
        for _ in range(NUMBERING_ATTEMPTS):
            try:
                with transaction.atomic():
                    version = ModelVersion.objects.create(
                        owner=owner,
                        name=name,
                        version=_next_number(owner, name),
                        source=source,
                        storage_key=key,
                        **described,
                        **fields,
                    )
                    webhooks.emit(
                        owner,
                        webhooks.VERSION_REGISTERED,
                        {**_event_body(version), "source": source, "metrics": version.metrics},
                    )
                    return version
            except IntegrityError:
                job = fields.get("job")
                if (
                    job is not None
                    and ModelVersion.objects.filter(
                        job=job, source=ModelVersion.Source.JOB
                    ).exists()
                ):
                    raise  # not a numbering race: the job's model is registered already
        raise Invalid(f"could not number a new version of {name!r}; try again")
    except BaseException:
        storage.delete(key)
        raise


def register_job_model(job, directory: Path, refit: dict) -> ModelVersion:
    """Register the refit best model of a finished job, once (a second call returns it).

    Lineage: the job, its best trial, the data set and its sha256 (uploads have one),
    the config, the seed and the code version.
    """
    if existing := ModelVersion.objects.filter(job=job, source=ModelVersion.Source.JOB).first():
        return existing
    directory = Path(directory)
    lineage = {
        "job": job,
        "trial_number": refit.get("trial"),
        "dataset": job.dataset,
        "dataset_sha256": getattr(job.dataset, "sha256", "") or "",
        "config": job.config,
        "params": refit.get("params") or {},
        "seed": job.typed_config.seed,
        "code_version": code_version(),
        "metrics": refit.get("test_metrics") or {},
        "description": f"Best model of job {job.id} ({job.name}), trial {refit.get('trial')}",
    }
    try:
        return create_version(
            job.owner,
            directory,
            name=model_name(job.name),
            source=ModelVersion.Source.JOB,
            **lineage,
        )
    except IntegrityError:
        # Two closes raced: the unique (job) constraint kept one; return that one.
        return ModelVersion.objects.get(job=job, source=ModelVersion.Source.JOB)


def register_job_result(job, directory: Path, model: dict) -> dict:
    """Register the model a finished job saved in `directory`, for the job's result: model
    holds "trial", "params" and "test_metrics". Returns {"model_version": id}, or why the
    registration failed: the search succeeded and its files stay in `directory`."""
    try:  # idempotent: a job closed twice finds the version it registered
        return {"model_version": register_job_model(job, directory, model).id}
    except Exception as exc:
        log.exception("job %s: the model could not be registered", job.id)
        return {"registry_error": f"{type(exc).__name__}: {exc}"}


def register_model_directory(
    owner, name: str, directory: Path, *, parent: ModelVersion, job, recipe: dict, metrics: dict
) -> ModelVersion:
    """Register a model derived from `parent` by a job (a compression step), once per step:
    a job run twice finds the version its step registered (recipe["step"])."""
    existing = ModelVersion.objects.filter(
        job=job, source=ModelVersion.Source.DERIVED, compression__step=recipe["step"]
    ).first()
    if existing:
        return existing
    return create_version(
        owner,
        Path(directory),
        name=name,
        source=ModelVersion.Source.DERIVED,
        job=job,
        parent=parent,
        compression=recipe,
        metrics=metrics,
        dataset=job.dataset,
        dataset_sha256=getattr(job.dataset, "sha256", "") or "",
        config=job.config,
        seed=job.typed_config.seed,
        code_version=code_version(),
        description=f"Step {recipe['step']} ({recipe['technique']}) of compression job "
        f"{job.id} ({job.name}) from {parent}",
    )


# --- exports


@contextmanager
def export_refusals() -> Iterator[None]:
    """An export the model's kind cannot give (workers' ExportError: workers know no
    Django) as the Conflict it is."""
    from workers.models.export import ExportError

    try:
        yield
    except ExportError as exc:
        raise Conflict(str(exc)) from None


# --- stages


def set_stage(version: ModelVersion, stage: str, actor=None) -> ModelVersion:
    """Move a version to `stage`; promotion demotes the previous production version in the
    same transaction: to archived, or to staging while a deployment still serves it or
    would roll back to it. Raises Conflict for a forbidden move. Each move is audited
    (`actor`: who asked)."""
    if stage not in Stage.values:
        raise Invalid(
            f"unknown stage {stage!r}", {"stage": [f"must be one of {', '.join(Stage.values)}"]}
        )
    with transaction.atomic():
        # Locking every version of the name serialises concurrent promotions.
        siblings = list(
            ModelVersion.objects.select_for_update()
            .filter(owner=version.owner_id, name=version.name)
            .order_by("id")
        )
        current = next(v for v in siblings if v.id == version.id)
        if current.stage == stage:
            return current
        if stage not in TRANSITIONS[current.stage]:
            raise Conflict(
                f"{current} is {current.stage}; it cannot move to {stage}",
                {"stage": [f"not allowed from {current.stage}"]},
            )
        from automl.serving.traffic import deployments_serving

        if stage in (Stage.ARCHIVED, Stage.NONE):
            if names := deployments_serving(current):
                raise Conflict(
                    f"{current} is served by deployment {', '.join(names)}; "
                    "take it out of their traffic first",
                    {"stage": ["the version is deployed"]},
                )
        now = timezone.now()
        if stage == Stage.PRODUCTION:
            for previous in siblings:
                if previous.stage == Stage.PRODUCTION:
                    # A version a deployment routes to, shadows, or would roll back to stays
                    # servable (archived versions are not served): it goes back to staging.
                    served = deployments_serving(previous, rollback=True)
                    demoted = Stage.STAGING if served else Stage.ARCHIVED
                    audit.record(previous, actor, {"stage": [previous.stage, demoted]})
                    previous.stage = demoted
                    previous.stage_changed_at = now
                    previous.save(update_fields=["stage", "stage_changed_at"])
        audit.record(current, actor, {"stage": [current.stage, stage]})
        webhooks.emit(
            current.owner,
            webhooks.STAGE_MOVED,
            {**_event_body(current), "from": current.stage, "to": stage},
        )
        current.stage, current.stage_changed_at = stage, now
        current.save(update_fields=["stage", "stage_changed_at"])
        return current


def _event_body(version: ModelVersion) -> dict:
    """What every webhook event about a version says of it."""
    return {"model": version.name, "version": version.version, "version_id": version.id}


# --- import


def _write_file(path: Path, upload: IO[bytes]) -> None:
    """Copy an upload (already on disk: see BodyLimitHandler) in chunks, never whole."""
    upload.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)


def read_spec(upload: IO[bytes]) -> dict:
    """The uploaded spec.json, read only when it is under MODEL_MAX_SPEC_BYTES."""
    limit = settings.MODEL_MAX_SPEC_BYTES
    upload.seek(0)
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise Invalid(
            f"spec: larger than MODEL_MAX_SPEC_BYTES ({limit} bytes)",
            {"spec": [f"over MODEL_MAX_SPEC_BYTES ({limit} bytes)"]},
        )
    try:
        spec = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise Invalid(f"spec: not valid JSON: {exc}", {"spec": ["not valid JSON"]}) from None
    if not isinstance(spec, dict):
        raise Invalid("spec: a JSON object is required", {"spec": ["a JSON object is required"]})
    return spec


def _check_zip(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The model files of a zip whose declared sizes are within limits (zipfile stops at the
    declared size and checks the CRC, so a member cannot unpack to more than it says)."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    total, limit = sum(m.file_size for m in members), settings.MODEL_MAX_UPLOAD_BYTES
    if total > limit:
        raise Invalid(
            f"archive: unpacks to {total} bytes, more than MODEL_MAX_UPLOAD_BYTES ({limit})",
            {"archive": [f"unpacks to more than MODEL_MAX_UPLOAD_BYTES ({limit} bytes)"]},
        )
    ratio = settings.MODEL_MAX_ZIP_RATIO
    for m in members:
        if m.file_size > ratio * max(m.compress_size, 1):
            raise Invalid(
                f"archive: {m.filename} unpacks to {m.file_size} bytes from "
                f"{m.compress_size}, more than MODEL_MAX_ZIP_RATIO ({ratio}) times",
                {"archive": [f"a member is compressed more than MODEL_MAX_ZIP_RATIO ({ratio}x)"]},
            )
    # A downloaded zip also carries a model card and lineage; only model files are read.
    return [m for m in members if m.filename in MODEL_FILES]


def _check_torch(directory: Path, spec: dict) -> None:
    """Before any module is built for real: the spec within MODEL_MAX_PARAMETERS and the
    safetensors header describing exactly the spec's tensors."""
    from workers.models.artifacts import WEIGHTS_FILE
    from workers.models.budget import BudgetError, check_weights

    try:
        check_weights(directory / WEIGHTS_FILE, spec, settings.MODEL_MAX_PARAMETERS)
    except BudgetError as exc:
        field = "weights" if str(exc).startswith("weights:") else "spec"
        message = str(exc).removeprefix("weights: ")
        raise Invalid(f"{field}: {message}", {field: [message]}) from None
    except (ValueError, TypeError) as exc:
        raise Invalid(f"spec: {exc}", {"spec": [str(exc)]}) from exc


# The model files an import may bring beside its spec.json, one of them per import:
# safetensors weights (torch), a skops pipeline, an ONNX graph, a torch.export program.
LOOSE_MODEL_FILES = ("weights", "skops", "onnx", "pt2")


def _check_onnx(path: Path) -> None:
    """Before an onnxruntime session is created: the graph within MODEL_MAX_PARAMETERS,
    its tensors inside the file and its operators standard (workers.models.onnx_graph)."""
    from workers.models.onnx_graph import GraphError, check_graph

    try:
        check_graph(path, settings.MODEL_MAX_PARAMETERS)
    except GraphError as exc:
        raise Invalid(f"onnx: {exc}", {"onnx": [str(exc)]}) from None


def _check_pt2(path: Path) -> None:
    """Before torch.export.load: nothing in the archive unpickled beyond plain tensors,
    no compiled code, and its parameters within MODEL_MAX_PARAMETERS."""
    from workers.models.export_program import ProgramError, check_program

    try:
        check_program(path, settings.MODEL_MAX_PARAMETERS, settings.MODEL_MAX_UPLOAD_BYTES)
    except ProgramError as exc:
        raise Invalid(f"pt2: {exc}", {"pt2": [str(exc)]}) from None


def import_model(
    owner,
    *,
    name: str,
    spec: dict | None = None,
    weights: IO[bytes] | None = None,
    skops: IO[bytes] | None = None,
    onnx: IO[bytes] | None = None,
    pt2: IO[bytes] | None = None,
    preprocessing: IO[bytes] | None = None,
    archive: IO[bytes] | None = None,
    description: str = "",
    tags: list[str] | None = None,
    parent: ModelVersion | None = None,
) -> ModelVersion:
    """A new version from uploaded files: a zip as downloaded, or a spec with safetensors
    weights (torch), a skops file (sklearn), an ONNX graph or a torch.export program, and
    optional skops preprocessing.

    Nothing is unpickled: safetensors holds tensors only, and skops files are loaded with
    the explicit allow-list of workers.models.artifacts. A torch spec is measured against
    MODEL_MAX_PARAMETERS and the weights' header against the spec before a module is built;
    an ONNX graph's initializers likewise before an onnxruntime session is created, and a
    .pt2 archive's records before torch.export.load (which would unpickle some).
    """
    from workers.models.artifacts import (
        SKOPS_FILE,
        SPEC_FILE,
        WEIGHTS_FILE,
        file_record,
        write_json,
    )
    from workers.models.layout import ONNX_FILE, PT2_FILE

    with tempfile.TemporaryDirectory(prefix="import-") as tmp:
        directory = Path(tmp)
        if archive is not None:
            try:
                archive.seek(0)
                with zipfile.ZipFile(archive) as zf:
                    for member in _check_zip(zf):
                        with zf.open(member) as packed:
                            _write_file(directory / member.filename, packed)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
                raise Invalid(
                    f"archive: not a zip file ({exc})", {"archive": ["not a valid zip file"]}
                ) from exc
            if not (directory / SPEC_FILE).exists():
                raise Invalid(
                    "archive: no spec.json in it", {"archive": ["must contain spec.json"]}
                )
            with (directory / SPEC_FILE).open("rb") as f:
                spec = read_spec(f)
        else:
            if not isinstance(spec, dict):
                raise Invalid(
                    "spec: a JSON object is required", {"spec": ["a JSON object is required"]}
                )
            uploads = {"weights": weights, "skops": skops, "onnx": onnx, "pt2": pt2}
            if sum(uploads[f] is not None for f in LOOSE_MODEL_FILES) != 1:
                raise Invalid(
                    "give one model file: weights (safetensors), skops or onnx",
                    {"weights": ["give one of weights, skops or onnx"]},
                )
            spec = {k: v for k, v in spec.items() if k not in ("file", "sha256", "size")}
            if weights is not None:
                path = directory / WEIGHTS_FILE
                _write_file(path, weights)
                spec.update(framework="torch")
                spec.setdefault("family", spec.get("kind", "torch"))
            elif onnx is not None:
                path = directory / ONNX_FILE
                _write_file(path, onnx)
                spec.update(framework="onnx", kind="onnx")
                spec.setdefault("family", "onnx")
            elif pt2 is not None:
                path = directory / PT2_FILE
                _write_file(path, pt2)
                spec.update(framework="torch-export", kind="pt2")
                spec.setdefault("family", "pt2")
            else:
                path = directory / SKOPS_FILE
                _write_file(path, skops)
                spec.update(framework="sklearn")
                spec.setdefault("family", "sklearn")
            spec.setdefault("format_version", 1)
            try:
                write_json(directory / SPEC_FILE, {**spec, **file_record(path)})
            except (TypeError, ValueError) as exc:
                raise Invalid(f"spec: {exc}", {"spec": [str(exc)]}) from exc
            if preprocessing is not None:
                pre = directory / "preprocessing.skops"
                _write_file(pre, preprocessing)
                record = {"framework": "sklearn", "format_version": 1, **file_record(pre)}
                write_json(directory / "preprocessing.json", record)
        if spec.get("framework") == "torch" and (directory / WEIGHTS_FILE).exists():
            _check_torch(directory, spec)
        if spec.get("framework") == "onnx" and (directory / ONNX_FILE).exists():
            _check_onnx(directory / ONNX_FILE)
        if spec.get("framework") == "torch-export" and (directory / PT2_FILE).exists():
            _check_pt2(directory / PT2_FILE)
        imported_spec = json.loads((directory / SPEC_FILE).read_text())
        fields = {
            "description": description,
            "tags": tags or [],
            "parent": parent,
            "metrics": imported_spec.get("metrics") or {},
        }
        return create_version(
            owner, directory, name=name, source=ModelVersion.Source.IMPORT, **fields
        )


# --- download


def model_card(version: ModelVersion) -> str:
    """A short Markdown card: what the model is, how it was made, how well it did."""
    metrics = (
        "\n".join(
            f"| {k} | {v:.6g} |" if isinstance(v, (int, float)) else f"| {k} | {v} |"
            for k, v in sorted(version.metrics.items())
        )
        or "| (none) | |"
    )
    features = ", ".join(version.features) if version.features else "(not recorded)"
    return f"""# {version.name} v{version.version}

{version.description or "No description."}

- task: {version.task}; framework: {version.framework}; family: {version.family}
- stage: {version.stage}; tags: {", ".join(version.tags) or "(none)"}
- inputs ({version.n_features or "?"}): {features}
- classes: {version.classes if version.classes is not None else "(regression)"}
- preprocessing: {
        "preprocessing.skops, applied before the model" if version.has_preprocessing else "none"
    }
- data file: {version.data_file}, {version.size} bytes, sha256 {version.sha256}

## Metrics (held-out test rows)

| metric | value |
| --- | --- |
{metrics}

## Lineage

- job: {version.job_id or "-"}, trial: {
        version.trial_number if version.trial_number is not None else "-"
    }
- data set: {version.dataset_id or "-"} (sha256 {version.dataset_sha256 or "-"})
- parent version: {version.parent_id or "-"}; compression: {version.compression or "-"}
- seed: {version.seed if version.seed is not None else "-"}; code version: {
        version.code_version or "-"
    }
- created {version.created_at:%Y-%m-%d %H:%M} UTC by {version.owner}

## Loading it

Load with `workers.models.artifacts.load_model(directory)` (and `load_transformer` when
preprocessing.skops is present), or re-import the zip: `POST /api/v1/models/import/`.
Nothing in it is a pickle: weights are safetensors, sklearn objects are skops.
"""


def lineage(version: ModelVersion) -> dict:
    return {
        "job": version.job_id,
        "trial": version.trial_number,
        "dataset": version.dataset_id,
        "dataset_sha256": version.dataset_sha256,
        "parent": version.parent_id,
        "compression": version.compression,
        "config": version.config,
        "params": version.params,
        "seed": version.seed,
        "code_version": version.code_version,
        "source": version.source,
    }


def write_zip(version: ModelVersion, target: Any) -> None:
    """The version's files, MODEL_CARD.md/.html (with its evaluation) and lineage.json, as
    a zip into `target`."""
    from workers.models.kinds import UnknownKindError, kind_of

    storage = get_storage()
    try:
        files = kind_of(version.spec).files(version.spec)
    except UnknownKindError:  # an imported spec naming no kind we know: the model files
        files = MODEL_FILES
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in storage.names(version.storage_key):
            if name in files:
                with storage.open(version.storage_key, name) as f, zf.open(name, "w") as out:
                    shutil.copyfileobj(f, out)
        from automl.evaluation.cards import card_html, card_markdown

        zf.writestr("MODEL_CARD.md", card_markdown(version))
        zf.writestr("MODEL_CARD.html", card_html(version))
        zf.writestr("lineage.json", json.dumps(lineage(version), indent=2, sort_keys=True))
