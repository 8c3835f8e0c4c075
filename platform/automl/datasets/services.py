"""Data sets' domain logic: builtins, uploads, profiles, deletion, and training data."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from automl.datasets import tasks
from automl.datasets.models import Dataset
from automl.errors import InUse, Invalid
from workers.data.builtin import BUILTIN_DATASETS, load_builtin
from workers.data.files import DataFileError, inspect_npz, read_npz
from workers.data.preprocess import DEFAULTS, DataConfigError, validate_preprocessing
from workers.data.profile import array_profile, profile_batches, target_profile
from workers.data.summary import ColumnSummary
from workers.data.tables import TableLayout, check_rows, iter_batches, table_layout
from workers.data.tabular import TabularData
from workers.data.uploads import analyse_target, load_npz_table, load_table, target_spec

log = logging.getLogger(__name__)
FIRST_ROWS = 10  # rows a data set's page shows as they are stored
MAX_FIRST_ROWS = 1000  # the most the API reads from the top of a file at once
FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".npz": "npz",
}
STORED_NAMES = {fmt: f"data.{fmt}" for fmt in FORMATS.values()}


# --- builtins


@functools.lru_cache(maxsize=len(BUILTIN_DATASETS))
def builtin_profile(name: str) -> dict:
    data = load_builtin(name)
    target = target_profile(data.y, data.task, data.target_name)
    return array_profile(data.X, data.feature_names, target)


def sync_builtin_datasets() -> None:
    """Make the Dataset rows of sklearn's bundled data sets match the code (idempotent)."""
    for name, meta in BUILTIN_DATASETS.items():
        data = load_builtin(name)
        Dataset.objects.update_or_create(
            builtin_name=name,
            defaults={
                "owner": None,
                "name": meta["title"],
                "description": meta["description"],
                "source": Dataset.Source.BUILTIN,
                "task": data.task,
                "target_name": data.target_name,
                "n_rows": data.X.shape[0],
                "n_features": data.X.shape[1],
                "columns": [*data.feature_names, data.target_name],
                "profile": builtin_profile(name),
                "profile_status": Dataset.ProfileStatus.READY,
            },
        )


# --- uploads


def upload_directory() -> Path:
    """A new, unused folder for one upload (created by the upload handler)."""
    return Path(settings.ARTIFACT_ROOT) / "datasets" / uuid.uuid4().hex


def file_format(name: str) -> str:
    suffix = Path(name or "").suffix.lower()
    if suffix not in FORMATS:
        raise DataFileError(
            f"unsupported file type {suffix or '(none)'!r}; upload a .csv (comma, "
            "semicolon or tab separated), .parquet, .xlsx, .jsonl (JSON lines) or .npz file"
        )
    return FORMATS[suffix]


def create_upload(
    owner,
    *,
    path: Path,
    original_name: str,
    size: int,
    sha256: str,
    name: str = "",
    description: str = "",
    target: str = "",
    task: str = "",
) -> Dataset:
    """Check the streamed file at `path`, then store it and its Dataset row together.

    The file's folder holds nothing else; on any error it is removed with the file and no
    row is left (Invalid names the field at fault and what is wrong with the file).
    """
    directory = path.parent
    try:
        fmt = file_format(original_name)
        if fmt == "npz":
            meta = _check_npz(path, task or None)
        else:
            meta = _check_table(path, fmt, target, task or None)
        stored = directory / STORED_NAMES[fmt]
        os.replace(path, stored)
        dataset = Dataset(
            owner=owner,
            source=Dataset.Source.UPLOAD,
            file_format=fmt,
            name=name or Path(original_name).stem[:200] or "data set",
            description=description,
            original_filename=original_name[:255],
            size_bytes=size,
            sha256=sha256,
            file_path=str(stored.relative_to(settings.ARTIFACT_ROOT)),
            **meta,
        )
        inline = size <= settings.DATASET_PROFILE_INLINE_BYTES
        if inline:  # small files: the profile is there when the upload answers
            dataset.profile, dataset.profile_status, dataset.profile_error = _profile(dataset)
        with transaction.atomic():
            dataset.save()
            if not inline:
                tasks.profile_dataset.apply_async_on_commit((dataset.id,), queue="cpu")
    except DataFileError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise Invalid(f"{exc.field}: {exc}", {exc.field: [str(exc)]}) from None
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return dataset


def _check_table(path: Path, fmt: str, target: str, task: str | None) -> dict:
    layout = table_layout(path, fmt, settings.DATASET_MAX_COLUMNS)
    target = target or layout.columns[-1]
    if target not in layout.columns:
        raise DataFileError(
            f"no column named {target!r}; the columns are {', '.join(layout.columns[:50])}",
            "target",
        )
    if len(layout.columns) < 2:
        raise DataFileError("the file needs at least one feature column besides the target")
    summary = check_rows(path, layout, summarise=layout.columns.index(target))
    spec = target_spec(summary, target, task)
    return {
        "task": spec.task,
        "target_name": target,
        "n_rows": layout.n_rows,
        "n_features": len(layout.columns) - 1,
        "columns": layout.columns,
        "file_layout": layout.as_dict(),
        "data_kind": Dataset.DataKind.TABLE,
    }


def _summary(path: Path, layout: TableLayout, column: str) -> ColumnSummary:
    """One column of a table summarised over batches (bounded memory)."""
    summary = ColumnSummary()
    for (cells,) in iter_batches(path, layout, [layout.columns.index(column)]):
        summary.add(cells)
    return summary


def _check_npz(path: Path, task: str | None) -> dict:
    layout = inspect_npz(path, max_bytes=8 * settings.DATASET_MAX_UPLOAD_BYTES)
    _, y = read_npz(path)
    spec = analyse_target(y.astype(float).astype(object), "y", task)
    n_features = int(layout.x_shape[1]) if layout.kind == "table" else 0
    return {
        "task": spec.task,
        "target_name": "y",
        "n_rows": int(layout.x_shape[0]),
        "n_features": n_features,
        "columns": [f"x{i}" for i in range(n_features)] + ["y"] if n_features else [],
        "file_layout": {
            "x_shape": list(layout.x_shape),
            "y_shape": list(layout.y_shape),
            "x_dtype": layout.x_dtype,
            "y_dtype": layout.y_dtype,
        },
        "data_kind": layout.kind,
    }


def delete_dataset(dataset: Dataset) -> None:
    """Delete an upload and its file; InUse if a job or a model version uses it."""
    if dataset.is_builtin:
        raise ValueError("built-in data sets cannot be deleted")
    directory = dataset.directory
    try:
        with transaction.atomic():
            if dataset.jobs.exists():
                raise InUse(
                    f"The data set is in use: {dataset.jobs.count()} job(s) use this data set."
                )
            dataset.delete()
    except ProtectedError as exc:  # e.g. registry model versions (on_delete=PROTECT)
        raise InUse(
            f"The data set is in use: {len(exc.protected_objects)} object(s) use this data "
            "set: delete them first."
        ) from None
    shutil.rmtree(directory, ignore_errors=True)


# --- profiles


def compute_profile(dataset: Dataset) -> dict:
    """The profile of a data set's whole file (or of a builtin's arrays)."""
    if dataset.is_builtin:
        return builtin_profile(dataset.builtin_name)
    if dataset.file_format == Dataset.Format.NPZ:
        data = load_npz_table(dataset.path, dataset.task)
        target = target_profile(data.y, data.task, "y", data.classes)
        return array_profile(data.X, data.feature_names, target)
    layout = _layout(dataset)
    batches = iter_batches(dataset.path, layout)
    return profile_batches(batches, layout.columns, dataset.target_name, dataset.task)


def _profile(dataset: Dataset) -> tuple[dict, str, str]:
    """(profile, status, error): a failure is shown on the data set, never raised."""
    try:
        return compute_profile(dataset), Dataset.ProfileStatus.READY, ""
    except Exception as exc:  # the file passed its checks: this is our bug to show
        log.exception("data set %s: profiling failed", dataset.id)
        return {}, Dataset.ProfileStatus.FAILED, f"{type(exc).__name__}: {exc}"


def profile_dataset(dataset_id: int) -> str:
    """Profile a pending data set (the worker task); a second delivery finds it done.

    Returns the data set's profile status afterwards.
    """
    dataset = Dataset.objects.filter(id=dataset_id).first()
    if dataset is None:
        return "missing"
    if dataset.profile_status != Dataset.ProfileStatus.PENDING:
        return dataset.profile_status
    profile, status, error = _profile(dataset)
    Dataset.objects.filter(id=dataset_id, profile_status=Dataset.ProfileStatus.PENDING).update(
        profile=profile, profile_status=status, profile_error=error
    )
    return status


def reconcile_profiles(queued_after_s: float, give_up_after_s: float) -> dict[str, int]:
    """A data set pending its profile for longer than `queued_after_s` is sent to a worker
    again (a second delivery finds it done); after `give_up_after_s` it fails, saying so
    (a file that kills its worker would otherwise be sent forever)."""
    now = timezone.now()
    pending = Dataset.objects.filter(profile_status=Dataset.ProfileStatus.PENDING)
    failed = pending.filter(created_at__lt=now - timedelta(seconds=give_up_after_s)).update(
        profile_status=Dataset.ProfileStatus.FAILED,
        profile_error=f"no worker profiled it within PROFILE_MAX_PENDING_S "
        f"({give_up_after_s:g} s); upload it again",
    )
    again = list(
        pending.filter(created_at__lt=now - timedelta(seconds=queued_after_s)).values_list(
            "id", flat=True
        )
    )
    for dataset_id in again:
        tasks.profile_dataset.apply_async((dataset_id,), queue="cpu")
    return {"profiles_requeued": len(again), "profiles_failed": failed}


def first_rows(dataset: Dataset, n: int = FIRST_ROWS) -> tuple[list[str], list[list]]:
    """(column names, the first `n` rows) as the data set stores them: an upload's cells as
    the file holds them (text, missing cells None), a builtin's or an .npz's numbers with
    its target last. An image data set has no rows to show: ([], [])."""
    if dataset.data_kind == Dataset.DataKind.IMAGES:
        return [], []
    if dataset.is_builtin or dataset.file_format == Dataset.Format.NPZ:
        data = (
            load_builtin(dataset.builtin_name)
            if dataset.is_builtin
            else load_npz_table(dataset.path, dataset.task)
        )
        rows = [
            [*x, target]
            for x, target in zip(data.X[:n].tolist(), data.y[:n].tolist(), strict=True)
        ]
        return [*data.feature_names, data.target_name], rows
    layout = _layout(dataset)
    rows: list[list] = []
    for batch in iter_batches(dataset.path, layout):  # the first batch, unless it is short
        cells = [column[: n - len(rows)].to_pylist() for column in batch]
        rows += [list(row) for row in zip(*cells, strict=True)]
        if len(rows) >= n:
            break
    return list(layout.columns), rows


def _layout(dataset: Dataset) -> TableLayout:
    return TableLayout.stored(
        dataset.file_format, dataset.file_layout, dataset.columns, dataset.n_rows
    )


# --- jobs


def job_task(dataset: Dataset, config: object) -> tuple[str, dict[str, str]]:
    """The task a job's config asks of a data set, and errors ({"config.<field>": msg}).

    The data set's task, unless the config names another target column (its task is
    then inferred from that column) or a task of its own (checked against the target).
    """
    config = config if isinstance(config, dict) else {}
    columns = {c: "" for c in dataset.columns if c}
    try:
        validate_preprocessing(config, columns or None)
    except DataConfigError as exc:
        return dataset.task, {f"config.{path}": msg for path, msg in exc.errors.items()}
    target = config.get("target") or dataset.target_name
    task = config.get("task")
    task = task if task in ("classification", "regression") else None
    if dataset.is_builtin or dataset.file_format == Dataset.Format.NPZ:
        if target != dataset.target_name:
            return dataset.task, {
                "config.target": f"this data set's target is fixed: {dataset.target_name!r}"
            }
        return task or dataset.task, {}
    if target == dataset.target_name and task in (None, dataset.task):
        return dataset.task, {}
    try:
        return target_spec(_summary(dataset.path, _layout(dataset), target), target, task).task, {}
    except (DataFileError, OSError) as exc:
        return task or dataset.task, {"config.target": str(exc)}


def suggested_drops(dataset: Dataset, target: str) -> list[str]:
    """The columns the profile suggests dropping (constant, ID-like, leaky, duplicate),
    except the job's target."""
    found = (dataset.profile or {}).get("suggested_drops") or []
    return [s["column"] for s in found if s["column"] != target]


def training_data(dataset: Dataset, config: dict) -> TabularData:
    """The rows a job trains on, as the engines' TabularData.

    Uploads apply the config's target and dropped columns; a table's X holds raw cells that
    the job's preprocessing (data.make_transformer) turns into numbers.
    """
    preprocessing = config.get("preprocessing")
    if dataset.is_builtin:
        data = load_builtin(dataset.builtin_name)
        data.use_preprocessing(preprocessing)  # None: the arrays are used as they are
        return data
    if dataset.file_format == Dataset.Format.NPZ:
        data = load_npz_table(dataset.path, config.get("task") or dataset.task)
        data.use_preprocessing(preprocessing)
        return data
    preprocessing = preprocessing or dict(DEFAULTS)
    target = config.get("target") or dataset.target_name
    if preprocessing.get("drop_suggested"):
        drop = [*preprocessing["drop"], *suggested_drops(dataset, target)]
        preprocessing = {**preprocessing, "drop": list(dict.fromkeys(drop))}
    data, _ = load_table(
        dataset.path,
        _layout(dataset),
        target,
        config.get("task") or dataset.task,
        list(preprocessing.get("drop", [])),
    )
    data.use_preprocessing(preprocessing)
    return data
