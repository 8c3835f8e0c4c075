from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet


class Dataset(models.Model):
    """A table of features and a target that jobs train on.

    Built-in data sets (sklearn's bundled ones) have no owner and are read-only for all;
    every other data set belongs to the user who brought it.
    """

    class Source(models.TextChoices):
        BUILTIN = "builtin"

    class Task(models.TextChoices):
        CLASSIFICATION = "classification"
        REGRESSION = "regression"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
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

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.source == self.Source.BUILTIN

    @classmethod
    def visible_to(cls, user) -> QuerySet["Dataset"]:
        """The user's own data sets and the built-in ones."""
        return cls.objects.filter(Q(owner=user) | Q(source=cls.Source.BUILTIN))
