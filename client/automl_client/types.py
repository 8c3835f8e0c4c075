"""What the API returns, as dataclasses.

Each keeps the answer it was built from in `raw` (fields a newer server adds are there
before this client knows them), and the objects with actions (a job waits and cancels, a
deployment predicts) keep the client that fetched them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl_client.client import Client

FINISHED = ("succeeded", "failed", "cancelled")


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(kw_only=True)
class Resource:
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    client: Client | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict, client: Client | None = None):
        """Build from an API answer: known fields typed, timestamps as datetimes."""
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in ("raw", "client") or f.name not in data:
                continue
            value = data[f.name]
            values[f.name] = _timestamp(value) if f.name.endswith("_at") else value
        return cls(**values, raw=data, client=client)

    def _api(self) -> Client:
        if self.client is None:
            raise RuntimeError(f"this {type(self).__name__} was not fetched through a Client")
        return self.client


@dataclass(kw_only=True)
class Dataset(Resource):
    id: int
    name: str = ""
    description: str = ""
    source: str = ""
    builtin_name: str | None = None
    task: str = ""
    target_name: str = ""
    n_rows: int | None = None
    n_features: int | None = None
    owner: str | None = None
    data_kind: str = ""
    columns: list = field(default_factory=list)
    profile_status: str = ""
    profile_error: str = ""
    created_at: datetime | None = None

    def profile(self) -> dict:
        """The column profile (types, missing values, target balance); fetched anew."""
        return self._api().datasets.get(self.id).raw.get("profile") or {}


@dataclass(kw_only=True)
class Trial(Resource):
    number: int
    state: str = ""
    params: dict = field(default_factory=dict)
    values: list[float] | None = None
    intermediate_values: dict = field(default_factory=dict)
    error: str = ""
    failure_class: str = ""  # oom, numerical, time_limit, invalid_config, data, ...
    retry_of: int | None = None  # the failed trial this one retries
    retry_change: dict = field(default_factory=dict)  # name -> [from, to]
    worker: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    job: int | None = None  # set by Jobs.trials, for Trial.log()

    @property
    def value(self) -> float | None:
        """The first objective's value (the only one of a single-objective job)."""
        return self.values[0] if self.values else None

    def log(self) -> str:
        """What the trial printed (stdout, stderr, logging), bounded and redacted."""
        if self.job is None:
            raise RuntimeError("this Trial was not fetched through Jobs.trials")
        return self._api().jobs.trial_log(self.job, self.number)


@dataclass(kw_only=True)
class Job(Resource):
    id: int
    kind: str = ""
    name: str = ""
    owner: str = ""
    dataset: int | None = None
    dataset_name: str = ""
    config: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    priority: int = 0
    status: str = ""
    waiting_reason: str = ""
    progress: float = 0.0
    cancel_requested: bool = False
    pause_requested: bool = False
    error_message: str = ""
    failure_class: str = ""  # why the job failed, when it did
    failure_counts: dict = field(default_factory=dict)  # class -> failed trials (get only)
    result: dict | None = None
    parent: int | None = None  # the pipeline that started it as one of its stages
    study_name: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def refresh(self) -> Job:
        return self._api().jobs.get(self.id)

    def trials_to_run(self, **options: Any):
        """An external job's trials for this machine (see automl_client.trials)."""
        return self._api().jobs.trials_to_run(self.id, **options)

    def wait(self, **options: Any) -> Job:
        """Until the job ends; see `Jobs.wait`."""
        return self._api().jobs.wait(self.id, **options)

    def cancel(self) -> Job:
        return self._api().jobs.cancel(self.id)

    def trials(self, state: str | None = None) -> list[Trial]:
        return self._api().jobs.trials(self.id, state=state)

    def trial_log(self, number: int) -> str:
        return self._api().jobs.trial_log(self.id, number)

    def pause(self) -> Job:
        return self._api().jobs.pause(self.id)

    def resume(self) -> Job:
        return self._api().jobs.resume(self.id)

    def extend(self, n_trials: int | None = None, seconds: int | None = None) -> Job:
        return self._api().jobs.extend(self.id, n_trials=n_trials, seconds=seconds)

    def register_best(self) -> Job:
        return self._api().jobs.register_best(self.id)

    def rerun_failed(self, failure_class: str | None = None) -> Job:
        return self._api().jobs.rerun_failed(self.id, failure_class)

    def trials_frame(self, state: str | None = None):
        """The trials as a pandas DataFrame (needs pandas)."""
        return self._api().jobs.trials_frame(self.id, state=state)

    def continue_(self, **changes: Any) -> Job:
        return self._api().jobs.continue_(self.id, **changes)

    def run_again(self, **changes: Any) -> Job:
        return self._api().jobs.run_again(self.id, **changes)

    def model_versions(self) -> list[ModelVersion]:
        """The model versions this job registered (the best model, NAS retrain, ...)."""
        return self._api().models.list(job=self.id)


@dataclass(kw_only=True)
class ModelVersion(Resource):
    id: int
    name: str = ""
    version: int = 0
    description: str = ""
    stage: str = ""
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str = ""
    owner: str = ""
    framework: str = ""
    family: str = ""
    task: str = ""
    features: list | None = None
    n_features: int | None = None
    classes: list | None = None
    metrics: dict = field(default_factory=dict)
    latency_ms: float | None = None
    size: int | None = None
    lineage: dict = field(default_factory=dict)
    created_at: datetime | None = None

    def stage_to(self, stage: str) -> ModelVersion:
        return self._api().models.stage(self.id, stage)

    def download(self, path: str | Path | None = None) -> Path:
        return self._api().models.download(self.id, path)


@dataclass(kw_only=True)
class Deployment(Resource):
    id: int
    name: str = ""
    model_name: str = ""
    routes: list[dict] = field(default_factory=list)
    shadow: int | None = None
    history: list = field(default_factory=list)
    follows: str = ""
    cache_ttl_s: int | None = None
    log_predictions: bool = True
    batching: dict | None = None
    owner: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def predict(self, inputs: list, **options: Any) -> Prediction:
        return self._api().deployments.predict(self.id, inputs, **options)

    def rollback(self) -> Deployment:
        return self._api().deployments.rollback(self.id)


@dataclass(kw_only=True)
class Prediction(Resource):
    """One predict answer: which version answered, and its outputs per row."""

    predictions: list = field(default_factory=list)
    probabilities: list | None = None  # rows x classes, in the order of `classes`
    classes: list | None = None
    version: int | None = None
    deployment: int | None = None
    cached: bool = False
    explanations: list | None = None
