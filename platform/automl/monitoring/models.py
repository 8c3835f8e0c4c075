from django.conf import settings
from django.db import models


class DriftReport(models.Model):
    """One comparison of a deployment's logged inputs with its model's training reference.

    `result` is workers.monitoring.drift_report's output (per-feature tests, histograms)
    plus "prediction_drift"; the columns repeat its verdict for queries and charts.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"

    deployment = models.ForeignKey(
        "serving.Deployment", on_delete=models.CASCADE, related_name="drift_reports"
    )
    version = models.ForeignKey(
        "registry.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    n_rows = models.PositiveIntegerField()
    drifted_share = models.FloatField()
    dataset_drift = models.BooleanField(help_text="The drifted share reached the threshold.")
    result = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "-created_at"])]

    def __str__(self) -> str:
        return f"drift report {self.id} of {self.deployment}"


class Alert(models.Model):
    """A threshold crossed: data drift, or live accuracy/error worse than allowed.

    At most one open alert per (deployment, kind): a later crossing updates it, a later
    healthy report resolves it.
    """

    class Kind(models.TextChoices):
        DRIFT = "drift"
        PERFORMANCE = "performance"

    deployment = models.ForeignKey(
        "serving.Deployment", on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField()
    value = models.FloatField(help_text="The drifted share, or the live metric.")
    threshold = models.FloatField()
    report = models.ForeignKey(
        DriftReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    webhook_status = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_alert_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} alert on {self.deployment}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Feedback(models.Model):
    """The true label of one row of a logged prediction, sent later by its owner."""

    prediction = models.ForeignKey(
        "serving.PredictionLog", on_delete=models.CASCADE, related_name="feedback"
    )
    row = models.PositiveIntegerField(default=0)
    label = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["prediction", "row"], name="one_label_per_row")
        ]

    def __str__(self) -> str:
        return f"feedback on prediction {self.prediction_id} row {self.row}"


class WorkerHeartbeat(models.Model):
    """The latest beat of one Celery worker (its node name), written every few seconds."""

    name = models.CharField(max_length=255, unique=True, help_text="Celery node name.")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    concurrency = models.PositiveIntegerField(null=True, blank=True)
    info = models.JSONField(default=dict, help_text="Device, CPU and memory at the last beat.")
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MonitoringPolicy(models.Model):
    """What the periodic check does for one deployment: how it judges drift, how often it
    looks, and what it does when the traffic drifted (nothing, an alert, or a re-tune).

    A re-tune (automl.monitoring.retune) is a pipeline job owned by the deployment's owner;
    at most one starts per `retune_every_hours`, however often drift is seen.
    """

    class Action(models.TextChoices):
        NOTHING = "nothing", "record the check only"
        ALERT = "alert", "open a drift alert"
        RETUNE = "retune", "alert and re-tune"

    deployment = models.OneToOneField(
        "serving.Deployment", on_delete=models.CASCADE, related_name="monitoring_policy"
    )
    enabled = models.BooleanField(default=True, help_text="Off: the policy does nothing.")
    action = models.CharField(max_length=20, choices=Action.choices, default=Action.ALERT)
    share_threshold = models.FloatField(
        default=0.5, help_text="Share of features that must drift for the data set to drift."
    )
    alpha = models.FloatField(default=0.05, help_text="p-value below which a feature drifted.")
    min_rows = models.PositiveIntegerField(
        default=30, help_text="Logged rows below which a feature is not judged."
    )
    window_hours = models.FloatField(default=24.0, help_text="Recent traffic a check reads.")
    check_every_hours = models.FloatField(default=1.0, help_text="Time between two checks.")
    retune_every_hours = models.FloatField(
        default=24.0, help_text="At most one automatic re-tune in this many hours."
    )
    min_labels = models.PositiveIntegerField(
        default=30, help_text="Labelled recent rows (feedback) a re-tune needs."
    )
    n_trials = models.PositiveIntegerField(default=10, help_text="Trials of the re-tune search.")
    significance = models.FloatField(
        default=0.05, help_text="p-value below which the challenger's win counts."
    )
    require_significant = models.BooleanField(
        default=True, help_text="Off: a challenger that is better at all is ramped."
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_retune_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"monitoring policy of {self.deployment}"


class Activity(models.Model):
    """One automatic action on a deployment, with why: the deployment page's activity log
    (also announced as the `monitoring_action` webhook event)."""

    class Kind(models.TextChoices):
        DRIFT_CHECKED = "drift_checked"
        RETUNE_STARTED = "retune_started"
        RETUNE_SKIPPED = "retune_skipped"
        CHALLENGER_REGISTERED = "challenger_registered"
        COMPARED = "compared"
        RAMP_STARTED = "ramp_started"
        RETUNE_STOPPED = "retune_stopped"

    deployment = models.ForeignKey(
        "serving.Deployment", on_delete=models.CASCADE, related_name="activities"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    report = models.ForeignKey(
        DriftReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.kind} on {self.deployment}"
