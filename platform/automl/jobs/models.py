import functools
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast

from automl.jobs import kinds
from automl.ownership import OwnedQuerySet
from workers.failures import LABELS as FAILURE_LABELS

# The failure classes of workers/failures.py ("" for none).
FAILURE_CLASSES = [("", "none"), *FAILURE_LABELS.items()]


class Job(models.Model):
    """One unit of work a user submitted, of one of the kinds in automl.jobs.kinds."""

    # Job.Kind.HPO, Job.Kind.NAS...: one member per registered kind.
    Kind = models.TextChoices(
        "Kind", [(name.upper(), (name, label)) for name, label in kinds.choices()]
    )

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PAUSED = "paused"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    # None only for kinds that need no data set (external trials read their own data).
    dataset = models.ForeignKey(
        "datasets.Dataset", on_delete=models.PROTECT, related_name="jobs", null=True, blank=True
    )
    config = models.JSONField(help_text="The validated config, with every default filled in.")
    resources = models.JSONField(default=dict)
    queue = models.CharField(max_length=20, default="cpu")
    priority = models.SmallIntegerField(
        default=0,
        help_text="Higher runs first among the owner's own queued jobs; other users' jobs "
        "are interleaved by fair share whatever it is.",
    )

    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    cancel_requested = models.BooleanField(default=False)
    pause_requested = models.BooleanField(
        default=False, help_text="Start no new trial; pause once the running ones end."
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    error_message = models.TextField(blank=True)
    failure_class = models.CharField(
        max_length=20, choices=FAILURE_CLASSES, blank=True, help_text="Why the job failed."
    )
    result = models.JSONField(default=dict, blank=True, help_text="Summary of the outcome.")

    worker_host = models.CharField(max_length=255, blank=True)
    worker_info = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker claimed it.")
    study_name = models.CharField(max_length=100, blank=True, help_text="Its Optuna study.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The job (a pipeline) that started this one as one of its stages.",
    )

    dispatched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the scheduler sent it to the broker (empty: held back, queued).",
    )

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    closing_at = models.DateTimeField(
        null=True, blank=True, help_text="When a trial runner started closing the job."
    )

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "queue"], name="job_status_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.id} ({self.name})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def checkpoint_dir(self) -> Path:
        """Where its engine keeps what a paused (or taken over) run resumes from: a DARTS
        search's last epoch, a compression chain's finished steps. Deleted once it ends."""
        return settings.ARTIFACT_ROOT / "jobs" / str(self.id) / "checkpoint"

    @property
    def slots(self) -> int:
        """Worker pool processes it takes while running: one per trial runner."""
        # The platform's own key, read raw: the dispatcher weighs every queued job with it
        # and must not stop at one whose stored config no longer passes its kind's checks.
        return int(self.config.get("parallelism", 1) or 1)

    @functools.cached_property
    def typed_config(self) -> Any:
        """The stored config as its kind's typed config (a workers.config.TypedConfig), every
        check run again: what the platform reads instead of `config["..."]`. ConfigError if
        the stored config no longer passes them (a worker fails the job with it)."""
        return kinds.get(self.kind).typed_config(self)


class Trial(models.Model):
    """One evaluated configuration of a job, written when it finishes."""

    class State(models.TextChoices):
        RUNNING = "running"
        COMPLETE = "complete"
        PRUNED = "pruned"
        FAILED = "failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="trials")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=20, choices=State.choices)
    params = models.JSONField(default=dict)
    values = models.JSONField(null=True, blank=True, help_text="Objective values, one per metric.")
    intermediate_values = models.JSONField(
        default=dict, blank=True, help_text="Step (epoch) to value, as reported while training."
    )
    error = models.TextField(blank=True)
    failure_class = models.CharField(
        max_length=20, choices=FAILURE_CLASSES, blank=True, db_index=True
    )
    retry_of = models.PositiveIntegerField(
        null=True, blank=True, help_text="The number of the failed trial this one retries."
    )
    retry_change = models.JSONField(
        default=dict, blank=True, help_text="What the retry changed: name -> [from, to]."
    )
    log = models.TextField(blank=True, help_text="Its stdout, stderr and logging (bounded).")
    # Curation: kept in the record; an excluded trial is left out of charts, importances,
    # best-trial choice and warm starts.
    notes = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    excluded = models.BooleanField(default=False)
    exclude_reason = models.CharField(max_length=500, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="host:pid that ran it")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The first objective, computed by the database from `values` (no writer sets it), so
    # the trials table sorts and the history chart aggregates 50,000 trials on an index
    # instead of decoding every row's JSON.
    value = models.GeneratedField(
        expression=Cast(KeyTextTransform("0", "values"), models.FloatField()),
        output_field=models.FloatField(null=True),
        db_persist=True,
    )

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="unique_trial_number")
        ]
        # What the trial explorer (automl.jobs.explorer) reads on 50,000 trials of a job:
        # best first and last (and migration 0012's (job, value DESC NULLS LAST) on
        # Postgres), counts by state (index-only), the model family of a model: auto
        # search, the history chart's values (index-only), and the few trials that retry
        # another.
        indexes = [
            models.Index(fields=["job", "value"], name="trial_job_value"),
            models.Index(fields=["job", "state"], name="trial_job_state"),
            models.Index(F("job"), KeyTransform("model", "params"), name="trial_job_family"),
            models.Index(
                fields=["job", "number", "value"],
                condition=models.Q(state="complete", excluded=False, value__isnull=False),
                name="trial_job_history",
            ),
            models.Index(
                fields=["job", "retry_of"],
                condition=models.Q(retry_of__isnull=False),
                name="trial_job_retries",
            ),
        ]

    def __str__(self) -> str:
        return f"trial {self.number} of job {self.job_id}"


class Schedule(models.Model):
    """A job (any kind, a pipeline too) submitted again and again on a cron schedule, e.g.
    a nightly re-evaluation (automl.jobs.schedules; beat checks due ones every minute)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules"
    )
    name = models.CharField(max_length=200)
    cron = models.CharField(
        max_length=100, help_text="minute hour day-of-month month day-of-week, in UTC"
    )
    job = models.JSONField(help_text="The submission, as POST /api/v1/jobs/ takes it.")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_error = models.TextField(blank=True)
    runs = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["next_run_at", "id"]

    def __str__(self) -> str:
        return f"schedule {self.name} ({self.cron})"
