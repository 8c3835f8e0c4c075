from django.conf import settings
from django.db import models

from automl.ownership import OwnedQuerySet


class Deployment(models.Model):
    """A model name served over REST: a traffic split across its versions, and a shadow.

    The split is its `Route` rows; each request goes to one of them by a weighted random
    choice. The shadow version (if any) answers every request too, but its answers are
    only logged. Every change of the routes or the shadow pushes the previous pair onto
    `history` (as the API shows routes), which rollback pops.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deployments"
    )
    name = models.SlugField(max_length=100)
    model_name = models.SlugField(max_length=100, help_text="The registry name it serves.")
    shadow = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shadow_deployments",
    )
    history = models.JSONField(default=list, blank=True)
    follows = models.SlugField(
        max_length=50,
        blank=True,
        help_text="A registry alias of model_name: when it moves, the traffic that went to "
        "its old version goes to the new one. Blank: fixed versions.",
    )
    cache_ttl_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Result cache TTL; null: the default, 0: off."
    )
    log_predictions = models.BooleanField(default=True)
    batching = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text='Dynamic batching: {"max_batch_rows": 64, "max_wait_ms": 2}; null: off.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_deployment_name")
        ]

    def __str__(self) -> str:
        return f"deployment {self.name}"

    @property
    def routes(self) -> list[dict]:
        """The split as the API shows it: [{"version": id, "weight": number}, ...]."""
        return [{"version": r.version_id, "weight": r.weight} for r in self.route_set.all()]

    @property
    def version_ids(self) -> list[int]:
        return [route.version_id for route in self.route_set.all()]


class Route(models.Model):
    """One version's share of a deployment's traffic. A routed version cannot be deleted
    (PROTECT): its deployment would have nothing to answer with."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="route_set")
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="routes"
    )
    weight = models.FloatField(help_text="A positive number; the shares are weight / total.")

    class Meta:
        ordering = ["id"]  # the order the split was given in
        constraints = [
            models.UniqueConstraint(fields=["deployment", "version"], name="unique_route"),
            models.CheckConstraint(condition=models.Q(weight__gt=0), name="route_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment} -> version {self.version_id} x {self.weight:g}"


class PredictionLog(models.Model):
    """One served predict request: what came in, what went out, who answered, how fast.

    Inputs and outputs are kept for at most SERVING_LOG_MAX_ROWS rows of a request, so the
    write that a response waits for is bounded.
    """

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="predictions"
    )
    version = models.ForeignKey(
        "registry.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    n_rows = models.PositiveIntegerField()
    inputs = models.JSONField()
    outputs = models.JSONField()
    shadow_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shadow_outputs = models.JSONField(null=True, blank=True)
    latency_ms = models.FloatField()
    cached = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # What a request left behind, as the API and the admin show it (read-only in both).
    RECORDED = (
        "version",
        "n_rows",
        "inputs",
        "outputs",
        "shadow_version",
        "shadow_outputs",
        "latency_ms",
        "cached",
        "created_at",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["deployment", "-created_at"])]
