from rest_framework import serializers

from automl.registry.models import ModelVersion, Webhook, WebhookDelivery


class ModelVersionSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    lineage = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "version",
            "description",
            "stage",
            "stage_changed_at",
            "aliases",
            "tags",
            "source",
            "owner",
            "created_at",
            "framework",
            "family",
            "task",
            "features",
            "n_features",
            "classes",
            "has_preprocessing",
            "metrics",
            "latency_ms",
            "data_file",
            "sha256",
            "size",
            "spec",
            "lineage",
        ]
        read_only_fields = fields

    def get_lineage(self, obj: ModelVersion) -> dict:
        from automl.registry.services import lineage

        return lineage(obj)

    def get_aliases(self, obj: ModelVersion) -> list[str]:
        """The registry aliases pointing at this version (champion, challenger, ...)."""
        return sorted(a.alias for a in obj.aliases.all())


class ModelVersionUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50
    )


class StageSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=ModelVersion.Stage.choices)


class AliasSerializer(serializers.Serializer):
    alias = serializers.CharField(
        max_length=50,
        help_text="champion, challenger or any name (lower case); set on another version of "
        "the same name, it moves here, and deployments that follow it are re-routed.",
    )


class ImportSerializer(serializers.Serializer):
    """Multipart: `archive` (a zip as downloaded), or `spec` with `weights`, `skops`,
    `onnx` or `pt2`."""

    name = serializers.SlugField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    tags = serializers.CharField(
        required=False, allow_blank=True, help_text="Comma-separated tags."
    )
    parent = serializers.IntegerField(
        required=False, min_value=1, help_text="Id of one of your versions it derives from."
    )
    archive = serializers.FileField(required=False, help_text="A zip as downloaded.")
    spec = serializers.FileField(required=False, help_text="spec.json (the architecture).")
    weights = serializers.FileField(required=False, help_text="weights.safetensors (torch).")
    skops = serializers.FileField(required=False, help_text="model.skops (scikit-learn).")
    onnx = serializers.FileField(
        required=False,
        help_text="model.onnx: a graph taking one N x features float tensor; the spec names "
        "its features, task, classes and scores (logits or probabilities).",
    )
    preprocessing = serializers.FileField(required=False, help_text="preprocessing.skops.")

    pt2 = serializers.FileField(
        required=False,
        help_text="model.pt2: a torch.export program taking one N x features float tensor "
        "(dynamic batch); the spec names its features, task and classes.",
    )

    def validate(self, attrs: dict) -> dict:
        loose = {"spec", "weights", "skops", "onnx", "pt2", "preprocessing"}
        if "archive" in attrs and loose & set(attrs):
            raise serializers.ValidationError(
                {"archive": "send an archive or the files, not both"}
            )
        if "archive" not in attrs and "spec" not in attrs:
            raise serializers.ValidationError(
                {"spec": "send spec (with weights, skops, onnx or pt2), or an archive"}
            )
        return attrs


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "active", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    """The answer of a new subscription: the only time its secret is shown."""

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="http:// or https://")
    events = serializers.JSONField(
        help_text="Event names: version_registered, stage_moved, alias_moved, "
        "deployment_changed, drift_alert."
    )


class WebhookUpdateSerializer(serializers.Serializer):
    active = serializers.BooleanField()


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "payload",
            "status",
            "attempts",
            "response_status",
            "error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields
