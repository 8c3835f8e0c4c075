from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet

from automl.ownership import OwnedQuerySet


class Dataset(models.Model):
    """A table of features and a target that jobs train on.

    Built-in data sets (sklearn's bundled ones) have no owner and are read-only for all;
    every other data set belongs to the user who uploaded it and never changes after the
    upload: its file lives at ARTIFACT_ROOT / file_path and sha256 is the file's hash.
    """

    class Source(models.TextChoices):
        BUILTIN = "builtin"
        UPLOAD = "upload"

    class Format(models.TextChoices):
        CSV = "csv"
        PARQUET = "parquet"
        XLSX = "xlsx"
        JSONL = "jsonl"
        NPZ = "npz"

    class DataKind(models.TextChoices):
        TABLE = "table"
        IMAGES = "images"

    class ProfileStatus(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    class Task(models.TextChoices):
        CLASSIFICATION = "classification"
        REGRESSION = "regression"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="datasets",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    builtin_name = models.CharField(max_length=50, blank=True, unique=True, null=True)
    task = models.CharField(max_length=20, choices=Task.choices)
    target_name = models.CharField(max_length=200)
    n_rows = models.PositiveIntegerField()
    n_features = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    data_kind = models.CharField(max_length=10, choices=DataKind.choices, default=DataKind.TABLE)
    file_format = models.CharField(max_length=10, choices=Format.choices, blank=True)
    file_path = models.CharField(max_length=300, blank=True, help_text="Under ARTIFACT_ROOT.")
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    file_layout = models.JSONField(
        default=dict,
        blank=True,
        help_text="CSV encoding and delimiter, the format of other tables, or npz shapes.",
    )
    columns = models.JSONField(default=list, blank=True, help_text="Column names, in order.")
    profile_status = models.CharField(
        max_length=10, choices=ProfileStatus.choices, default=ProfileStatus.PENDING
    )
    profile = models.JSONField(default=dict, blank=True)
    profile_error = models.TextField(blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.source == self.Source.BUILTIN

    @property
    def path(self) -> Path:
        """The stored file (uploads only)."""
        return Path(settings.ARTIFACT_ROOT) / self.file_path

    @property
    def directory(self) -> Path:
        """The folder that holds the stored file and nothing else (uploads only)."""
        return self.path.parent

    @classmethod
    def visible_to(cls, user) -> QuerySet["Dataset"]:
        """The user's own data sets and the built-in ones."""
        return cls.objects.filter(Q(owner=user) | Q(source=cls.Source.BUILTIN))
