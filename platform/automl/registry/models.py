from django.conf import settings
from django.db import models
from django.db.models import Q

from automl.ownership import OwnedQuerySet


class ModelVersion(models.Model):
    """One immutable model in the repository: files, metrics, lineage, and a stage.

    Versions of one (owner, name) are numbered 1, 2, 3...; at most one of them is in
    production. The files live in the artifact storage under `storage_key`.
    """

    class Stage(models.TextChoices):
        NONE = "none"
        STAGING = "staging"
        PRODUCTION = "production"
        ARCHIVED = "archived"

    class Source(models.TextChoices):
        JOB = "job"  # the refit best model of a job
        IMPORT = "import"  # uploaded safetensors/skops + spec
        DERIVED = "derived"  # produced from a parent version (compression)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_versions"
    )
    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NONE)
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)

    # What the model is (spec.json, summarised for queries).
    framework = models.CharField(max_length=20)  # torch | sklearn
    family = models.CharField(max_length=50, blank=True)
    task = models.CharField(max_length=20)  # classification | regression
    spec = models.JSONField(default=dict, help_text="The architecture spec (spec.json).")
    features = models.JSONField(
        null=True, blank=True, help_text="Raw input column names, in order (null: unknown)."
    )
    n_features = models.PositiveIntegerField(null=True, blank=True)
    classes = models.JSONField(null=True, blank=True)
    has_preprocessing = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True)
    latency_ms = models.FloatField(
        null=True, blank=True, help_text="Median in-process latency of one row, measured once."
    )

    # The files.
    storage_key = models.CharField(max_length=255, unique=True)
    data_file = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()

    # Lineage.
    job = models.ForeignKey(
        "jobs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_versions",
    )
    trial_number = models.IntegerField(null=True, blank=True)
    dataset = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="model_versions",
    )
    dataset_sha256 = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    compression = models.JSONField(default=dict, blank=True, help_text="Compression recipe.")
    config = models.JSONField(default=dict, blank=True, help_text="The producing job's config.")
    params = models.JSONField(default=dict, blank=True, help_text="The model's own params.")
    seed = models.BigIntegerField(null=True, blank=True)
    code_version = models.CharField(max_length=100, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name", "version"], name="unique_model_version"
            ),
            # The database itself holds the rule: one production version per name.
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(stage="production"),
                name="one_production_version_per_name",
            ),
            # A job registers its model once, however often its close runs.
            models.UniqueConstraint(
                fields=["job"], condition=Q(source="job"), name="one_version_per_job"
            ),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def refusal(self, action: str) -> str | None:
        """Why `action` (a key of workers.models.kinds.ACTIONS) cannot be done; None if it can."""
        return self.refusals().get(action)

    def refusals(self) -> dict[str, str]:
        """Action -> why it cannot be done with this version, as the model-kind registry
        (workers.models.kinds) declares; the actions it can do are absent."""
        from workers.models.kinds import ACTIONS, UnknownKindError, refusal

        try:
            return {a: reason for a in ACTIONS if (reason := refusal(self.spec or {}, a))}
        except UnknownKindError as exc:  # an imported spec naming no kind we know
            return {a: str(exc) for a in ("export_onnx", "export_torchscript", "compress")}


class ModelAlias(models.Model):
    """A movable name (`champion`, `challenger`, anything) for one version of a registered
    model name. A deployment may follow an alias: moving it re-routes the deployment's
    traffic that went to the old version (automl.registry.aliases)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_aliases"
    )
    name = models.SlugField(max_length=100, help_text="The registered model name.")
    alias = models.SlugField(max_length=50)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "alias"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name", "alias"], name="unique_model_alias")
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}"


class Webhook(models.Model):
    """A subscription: registry and serving events of its owner's, POSTed to `url` as
    JSON signed with `secret` (automl.registry.webhooks)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(help_text="The event names it receives.")
    secret = models.CharField(max_length=64, help_text="The HMAC-SHA256 key of its signatures.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"webhook {self.id} -> {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending"  # not sent yet, or waiting for its next attempt
        DELIVERED = "delivered"
        FAILED = "failed"  # every attempt failed

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["webhook", "-created_at"])]
