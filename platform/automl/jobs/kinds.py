"""The job-kind registry: everything that varies with a job's kind, in one place.

Each kind is one module under automl/jobs/runners/ holding a `JobKind` subclass, and one
line in `JOB_KINDS` (its label and the class's dotted path, as healthchecks registers its
integrations). The class is imported on first use, so the web process never imports a
kind's engine and Job.Kind's choices come from this table without importing anything.
Serializers, pages, tasks and evaluation ask the kind; none of them branch on its name.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.module_loading import import_string

from automl.errors import Conflict, Invalid

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from automl.datasets.models import Dataset
    from automl.jobs.charts import TrialSample
    from automl.jobs.models import Job

JOB_KINDS: dict[str, tuple[str, str]] = {
    "hpo": ("Hyperparameter search", "automl.jobs.runners.hpo.HPO"),
    "nas": ("Architecture search", "automl.jobs.runners.nas.NAS"),
    "compression": ("Compression", "automl.jobs.runners.compression.Compression"),
    "external": ("Your own code (external trials)", "automl.jobs.runners.external.External"),
    "pipeline": ("Pipeline (search to deployment)", "automl.jobs.runners.pipeline.Pipeline"),
}


class JobKind:
    """What a kind of job declares: how its config is validated, its form, what a worker
    does with it, and how its page shows it. Defaults suit a kind whose trials each score
    one architecture or step; HPO overrides what it does differently."""

    name: str  # its key in JOB_KINDS, set when the registry makes it
    # How the kind is named in a sentence ("only HPO jobs take this").
    noun: ClassVar[str]
    # Dotted path of its new-job form (automl.jobs.forms.JobForm subclass).
    form_path: ClassVar[str]
    # Dotted path of its typed config (a workers.config.TypedConfig: JSON in and out).
    config_path: ClassVar[str]
    # Config keys the platform itself handles (JobSubmitSerializer) that this kind takes.
    platform_keys: ClassVar[frozenset[str]] = frozenset({"parallelism"})
    # It trains on one of the platform's data sets (external jobs: the user's code reads
    # its own data, and a data set is optional).
    needs_dataset: ClassVar[bool] = True
    # Its trials run on the user's machines, which ask for them over REST.
    external_trials: ClassVar[bool] = False
    # "Continue from this job": its finished trials can seed a new job's search.
    continuable: ClassVar[bool] = False
    # Its trials' params are flat hyperparameters, worth a column each on the job page.
    param_columns: ClassVar[bool] = False
    # Its trials may be scored by cross-validation (an evaluation then refits per fold).
    cross_validates: ClassVar[bool] = False
    # Its failed trials can be run again, as new trials of the same job (rerun()).
    reruns_failed: ClassVar[bool] = False
    # It can be paused between trials (or epochs, or steps) and resumed on any worker.
    pausable: ClassVar[bool] = False
    # A failed or cancelled job of it can register its best finished trial (register_best).
    registers_best_so_far: ClassVar[bool] = False
    # It only starts child jobs (Job.parent) and acts between them: while running it holds
    # no worker process and no running-job slot (its children do), and a child's end or a
    # cancel request wakes it (run() is called again).
    orchestrates: ClassVar[bool] = False
    # A paused or finished job of it can be given more trials or time (extend()).
    extendable: ClassVar[bool] = False
    # What its trials are to a user ("More trials or time" on the job page).
    trials_noun: ClassVar[str] = "trials"

    @property
    def label(self) -> str:
        return JOB_KINDS[self.name][0]

    @property
    def form(self) -> type:
        return import_string(self.form_path)

    @property
    def config_class(self) -> type:
        return import_string(self.config_path)

    def config_schema(self) -> dict:
        """The OpenAPI schema of the config a submission of this kind may send: its typed
        config's fields, and the platform keys it takes."""
        from workers.config import json_schema

        schema = json_schema(self.config_class)
        if "warm_start_from" in self.platform_keys:
            schema["properties"]["warm_start_from"] = {
                "type": "integer",
                "description": "seed the search with the finished trials of this job of yours",
            }
        return schema

    # --- submission

    def validate(
        self,
        config: object,
        *,
        dataset: Dataset | None,
        task: str | None,
        owner: Any,
        parallelism: object,
        errors: dict[str, str],
    ) -> dict:
        """The complete config (every default filled in) as JSON, or ConfigError naming
        the bad fields; problems found beside the engine's validator go in `errors`."""
        raise NotImplementedError

    def checked(
        self,
        config: object,
        *,
        dataset: Dataset | None,
        task: str | None,
        owner: Any,
        parallelism: object,
    ) -> tuple[dict | None, dict[str, str]]:
        """validate()'s two ways of saying no as one: the complete config (None when the
        engine's validator refused it) and every problem by its path from "config"."""
        from workers.config import ConfigError

        errors: dict[str, str] = {}
        try:
            config = self.validate(
                config,
                dataset=dataset,
                task=task,
                owner=owner,
                parallelism=parallelism,
                errors=errors,
            )
        except ConfigError as exc:
            errors.update({f"config.{path}".rstrip("."): msg for path, msg in exc.errors.items()})
            config = None
        return config, errors

    # --- the worker

    def typed_config(self, job: Job) -> Any:
        """The job's stored config rebuilt as its kind's typed config, every check run again
        (ConfigError if it no longer passes)."""
        return self.rebuilt(job, job.config)

    def rebuilt(self, job: Job, config: dict) -> Any:
        """`config`, meant for `job`, rebuilt as this kind's typed config (ConfigError)."""
        return self.config_class.from_json(config)

    def start(self, job: Job) -> int:
        """Run by run_job once the job is claimed: how many trial runners (run_trials) to
        send out; 0 when the job ran here to its end."""
        raise NotImplementedError

    def run(self, job: Job, runner: int) -> None:
        """One trial runner of a running job (or the reconciler's new one after its
        worker died): work until the job's budget is spent, then maybe close it."""
        raise NotImplementedError

    def rerun(self, job: Job, trials: dict[int, dict]) -> None:
        """Add a new trial to the finished job for each failed trial number -> the params
        it ran with, linked to it; the job is then queued again (reruns_failed kinds)."""
        raise NotImplementedError

    def register_best(self, job: Job) -> None:
        """Register the best finished trial of a failed or cancelled job as a model version
        (registers_best_so_far kinds); the job keeps its status."""
        raise NotImplementedError

    def extend(self, job: Job, n_trials: int, seconds: int) -> None:
        """Give a paused or finished job n_trials more trials and `seconds` more time
        (extendable kinds; either may be 0)."""
        raise NotImplementedError

    def extend_refused(self, job: Job) -> str:
        """Why this job of an extendable kind cannot take more trials ("" if it can)."""
        return ""

    def within_bounds(self, job: Job, config: dict, key: str, field: str, too_much: str) -> dict:
        """`config`, the job's config that extend() raised at `key`, if it still passes the
        kind's checks; else Invalid naming the API's `field` (past the option's largest
        value)."""
        from workers.config import ConfigError

        try:
            self.rebuilt(job, config)
        except ConfigError as exc:
            problem = exc.errors.get(key) or "; ".join(exc.errors.values())
            raise Invalid(f"{too_much}: {key} {problem}", {field: [problem]}) from None
        return config

    def more_time(self, job: Job, config: dict, key: str, seconds: int) -> dict:
        """`config` with `seconds` more on its time limit `key`. Conflict when it sets none:
        such a job does not stop for time (more trials are what it can take)."""
        if config.get(key) is None:
            raise Conflict(
                f"job {job.id} has no {key}, so it does not stop for time: give it more trials",
                {"seconds": [f"the job's config sets no {key}"]},
            )
        more = {**config, key: config[key] + seconds}
        return self.within_bounds(
            job, more, key, "seconds", f"{seconds} more seconds are too many"
        )

    def retry_from(self, job: Job, stage: int) -> None:
        """Make a failed or cancelled job run again from its stage `stage` (0-based), what
        came before kept (kinds with stages: `orchestrates`)."""
        raise NotImplementedError

    def stage_rows(self, job: Job) -> list[dict]:
        """The job's stages as its page lists them (none by default)."""
        return []

    def curated(self, job: Job) -> None:
        """Trials of the job were excluded or included again: recompute what depends on
        which trials count (HPO: the best trial and the importances). Nothing by default."""

    # --- the job page and evaluation

    def metrics(self, job: Job) -> list[str]:
        """The objective names of the job's trial values, in order."""
        return [str(job.result.get("metric", "value"))]

    def direction(self, job: Job) -> str:
        return "maximize"

    def figures(self, job: Job, sample: TrialSample, metrics: list[str]) -> list[Figure | None]:
        """The charts of the job page, each in its own place of the list (None: nothing to
        draw there yet), so a page that is live redraws each in place."""
        from automl.jobs import charts

        result = job.result or {}
        trials = sample.trials
        if len(metrics) > 1:
            progress = charts.pareto_front(trials, metrics, result.get("best_trials") or [])
        else:
            progress = charts.optimization_history(sample.history, metrics[0], self.direction(job))
        return [progress, charts.intermediate_values(trials, metrics[0])]

    def report_rows(self, job: Job) -> list[dict]:
        """Rows of a report table shown under the charts (none by default)."""
        return []

    def search_importances(self, job: Job) -> dict | None:
        """What the search learnt of its parameters' importance, for the evaluation
        report; None when the kind learns none."""
        return None


@functools.cache
def get(name: str) -> JobKind:
    """The kind registered as `name` (KeyError if none)."""
    kind = import_string(JOB_KINDS[name][1])()
    kind.name = name
    return kind


def choices() -> list[tuple[str, str]]:
    return [(name, label) for name, (label, _) in JOB_KINDS.items()]


def all_kinds() -> list[JobKind]:
    return [get(name) for name in JOB_KINDS]
