from rest_framework import serializers

from automl.datasets.models import Dataset


class DatasetSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id", "name", "description", "source", "builtin_name", "task", "target_name",
            "n_rows", "n_features", "owner", "created_at",
        ]
        read_only_fields = fields
