from rest_framework import serializers

from automl.datasets.models import Dataset
from automl.datasets.services import FIRST_ROWS, MAX_FIRST_ROWS

TASK_CHOICES = ["", "classification", "regression"]


class DatasetSerializer(serializers.ModelSerializer):
    # Built-in data sets have no owner and no file.
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    file_format = serializers.ChoiceField(choices=["", *Dataset.Format.values], read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "description",
            "source",
            "builtin_name",
            "task",
            "target_name",
            "n_rows",
            "n_features",
            "owner",
            "created_at",
            "data_kind",
            "file_format",
            "original_filename",
            "size_bytes",
            "sha256",
            "columns",
            "profile_status",
            "profile_error",
        ]
        read_only_fields = fields


class DatasetDetailSerializer(DatasetSerializer):
    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "file_layout", "profile"]
        read_only_fields = fields


class DatasetUploadSerializer(serializers.Serializer):
    """A multipart upload: the file, and how to read its target."""

    file = serializers.FileField(
        help_text=".csv (comma, semicolon or tab), .parquet, .xlsx, .jsonl or .npz (X, y)"
    )
    name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Default: the file name without its extension",
    )
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    target = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Tables: the target column (default: the last one); npz: always y",
    )
    task = serializers.ChoiceField(
        choices=TASK_CHOICES,
        required=False,
        allow_blank=True,
        help_text="Default: inferred from the target column",
    )


class DatasetRowsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_FIRST_ROWS,
        default=FIRST_ROWS,
        help_text=f"rows from the top of the file (1-{MAX_FIRST_ROWS})",
    )


class DatasetRowsSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True)),
        help_text="each row's cells in the order of `columns`",
    )
