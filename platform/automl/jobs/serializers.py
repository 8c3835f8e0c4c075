from rest_framework import serializers

from automl.datasets.models import Dataset
from automl.jobs.models import Job, Trial
from workers.hpo.config import ConfigError, validate_hpo_config

DEVICES = ["auto", "cpu", "cuda"]


class ResourcesSerializer(serializers.Serializer):
    device = serializers.ChoiceField(choices=DEVICES, default="auto")
    gpus = serializers.IntegerField(min_value=0, max_value=64, default=0)

    def validate(self, attrs: dict) -> dict:
        if attrs["device"] == "cpu" and attrs["gpus"] > 0:
            raise serializers.ValidationError({"gpus": "must be 0 when device is 'cpu'"})
        return attrs


class DatasetField(serializers.PrimaryKeyRelatedField):
    """A data set the caller may use; anything else reads as 'does not exist'."""

    def get_queryset(self):
        return Dataset.visible_to(self.context["request"].user)


class JobSubmitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Job.Kind.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    dataset = DatasetField()
    config = serializers.JSONField(
        help_text="Engine settings; see the README for the HPO schema. Defaults are filled in."
    )
    resources = ResourcesSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        dataset: Dataset = attrs["dataset"]
        try:
            attrs["config"] = validate_hpo_config(attrs["config"], dataset.task)
        except ConfigError as exc:
            raise serializers.ValidationError(
                {f"config.{path}".rstrip("."): message for path, message in exc.errors.items()}
            ) from None
        attrs.setdefault("resources", ResourcesSerializer().to_internal_value({}))
        if not attrs.get("name"):
            attrs["name"] = f"{attrs['kind']} on {dataset.name}"
        return attrs


class JobSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id", "kind", "name", "owner", "dataset", "dataset_name", "config", "resources",
            "queue", "status", "progress", "cancel_requested", "error_message", "result",
            "worker_host", "attempts", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


class TrialSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = [
            "number", "state", "params", "values", "intermediate_values", "error",
            "started_at", "finished_at",
        ]
        read_only_fields = fields
