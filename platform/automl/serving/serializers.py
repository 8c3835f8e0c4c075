from rest_framework import serializers

from automl.serving.models import Deployment, PredictionLog, Route


class RouteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Route
        fields = ["version", "weight"]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    routes = RouteSerializer(source="route_set", many=True, read_only=True)
    # Declared: the model's SlugField would document a slug pattern that "" (no alias) breaks.
    follows = serializers.CharField(
        read_only=True, help_text='The registry alias it follows; "": fixed versions.'
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "model_name",
            "routes",
            "shadow",
            "history",
            "follows",
            "cache_ttl_s",
            "log_predictions",
            "batching",
            "owner",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


BATCHING_HELP = (
    'Dynamic batching, e.g. {"max_batch_rows": 64, "max_wait_ms": 2}: concurrent requests '
    "to one version (in one web process) share a model call of at most max_batch_rows rows, "
    "a request waiting at most max_wait_ms (0-100) for others; null: off (the default)."
)


FOLLOWS_HELP = (
    "A registry alias of model_name (e.g. champion) to follow: when it moves to another "
    "version, the traffic that went to its old version goes to the new one. Blank: the "
    "routes name fixed versions."
)


class DeploymentCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=100)
    model_name = serializers.SlugField(max_length=100)
    routes = serializers.JSONField(
        required=False,
        help_text='[{"version": id, "weight": 90}, ...]; left out with `follows`: all '
        "traffic to the alias's version.",
    )
    follows = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text=FOLLOWS_HELP
    )
    shadow = serializers.JSONField(
        required=False, allow_null=True, help_text="A version id whose answers are only logged."
    )
    cache_ttl_s = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=7 * 24 * 3600
    )
    log_predictions = serializers.BooleanField(required=False, default=True)
    batching = serializers.JSONField(required=False, allow_null=True, help_text=BATCHING_HELP)


class TrafficSerializer(serializers.Serializer):
    routes = serializers.JSONField(
        required=False,
        help_text='[{"version": id, "weight": 90}, ...]; left out: the traffic stays.',
    )
    shadow = serializers.JSONField(required=False, allow_null=True)
    follows = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text=FOLLOWS_HELP
    )
    cache_ttl_s = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=7 * 24 * 3600
    )
    batching = serializers.JSONField(required=False, allow_null=True, help_text=BATCHING_HELP)


class PredictSerializer(serializers.Serializer):
    inputs = serializers.JSONField(
        help_text="Rows: objects keyed by feature name, or arrays in the model's order."
    )
    seed = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Seeds this request's traffic choice (e.g. a user id, for sticky A/B).",
    )
    explain = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also return per-feature attributions of each row's answer "
        "(`explanations`: integrated gradients for torch models fed numbers, "
        "occlusion against the training rows' baseline for the others); "
        "at most 100 rows.",
    )


class PredictAnswerSerializer(serializers.Serializer):
    """The answer of POST /deployments/{id}/predict/ (documentation only: the services
    build it)."""

    predictions = serializers.ListField(
        child=serializers.JSONField(),
        help_text="One per input row: a class label, or a number for regression.",
    )
    probabilities = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        required=False,
        help_text="Classifiers: one row per input, one column per class, in `classes` order.",
    )
    classes = serializers.ListField(
        child=serializers.JSONField(), required=False, help_text="Classifiers: the labels."
    )
    version = serializers.IntegerField(help_text="The model version that answered.")
    deployment = serializers.IntegerField()
    cached = serializers.BooleanField(help_text="Answered from the result cache.")
    explanations = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="With explain: each row's per-feature attributions.",
    )


class PredictionLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = PredictionLog
        fields = ["id", *PredictionLog.RECORDED]
        read_only_fields = fields
