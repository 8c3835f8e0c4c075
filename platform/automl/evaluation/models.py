from django.db import models


class Evaluation(models.Model):
    """The evaluation report of one model version on the rows its job held out.

    One per version; asking again recomputes it. `answers` keeps the per-row truth and
    predictions (not served by the API) so that two versions evaluated on the same rows
    (equal `rows_key`) can be compared row by row.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    version = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="evaluation"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)
    answers = models.JSONField(
        default=dict, blank=True, help_text="y_true, y_pred (and correct) per test row."
    )
    rows_key = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="sha256 of the data set and the test row indices: same key, same rows.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"evaluation of {self.version_id} ({self.status})"

    @property
    def owner(self):
        return self.version.owner
