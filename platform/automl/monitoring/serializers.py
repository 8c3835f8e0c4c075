"""The shapes of the monitoring API's answers and bodies: the views (and the dashboard's
data) answer with these serializers' output, and drf-spectacular documents them.

Alerts, drift reports and workers are rows; the job metrics and the overview are the
dicts automl.monitoring.fleet computes.
"""

from rest_framework import serializers

from automl.monitoring.models import (
    Activity,
    Alert,
    DriftReport,
    MonitoringPolicy,
    WorkerHeartbeat,
)


class SummarySerializer(serializers.Serializer):
    n = serializers.IntegerField()
    p50 = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)


class JobDurationSerializer(serializers.Serializer):
    finished_at = serializers.DateTimeField()
    seconds = serializers.FloatField()
    job = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()


class JobMetricsSerializer(serializers.Serializer):
    jobs_by_status = serializers.DictField(child=serializers.IntegerField())
    jobs_per_hour = serializers.ListField(
        child=serializers.DictField(), help_text='{"hour": ISO time, <status>: count}'
    )
    running_trials = serializers.IntegerField()
    trials_per_minute = serializers.FloatField()
    job_failure_rate = serializers.FloatField(allow_null=True)
    trial_failure_rate = serializers.FloatField(allow_null=True)
    job_durations_s = SummarySerializer()
    durations = JobDurationSerializer(many=True)
    window_hours = serializers.IntegerField()


class QueuesSerializer(serializers.Serializer):
    queues = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        help_text="messages waiting per queue; null: no broker",
    )
    housekeeping = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        help_text="of those, the messages Celery beat sent (reconciler, schedules, drift "
        "reports) rather than users' work; null: no broker",
    )


class WorkerSerializer(serializers.ModelSerializer):
    """A heartbeat as fleet.workers() annotates it; the device, CPU and memory it last
    reported (`info`) are spread into the answer."""

    alive = serializers.BooleanField()
    seconds_since = serializers.FloatField()
    running_jobs = serializers.IntegerField()

    class Meta:
        model = WorkerHeartbeat
        fields = [
            "name",
            "host",
            "pid",
            "queues",
            "concurrency",
            "alive",
            "last_seen",
            "seconds_since",
            "started_at",
            "stopped_at",
            "running_jobs",
        ]
        read_only_fields = fields

    def to_representation(self, beat: WorkerHeartbeat) -> dict:
        return {**super().to_representation(beat), **beat.info}


class WorkersSerializer(serializers.Serializer):
    workers = WorkerSerializer(many=True)


class AlertSerializer(serializers.ModelSerializer):
    deployment_name = serializers.CharField(source="deployment.name")

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "deployment",
            "deployment_name",
            "message",
            "value",
            "threshold",
            "report",
            "webhook_status",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        read_only_fields = fields


class AlertsSerializer(serializers.Serializer):
    alerts = AlertSerializer(many=True)


class OverviewSerializer(QueuesSerializer):
    jobs = JobMetricsSerializer()
    workers = WorkerSerializer(many=True)
    open_alerts = AlertSerializer(many=True)
    predictions_24h = serializers.IntegerField()
    latency_ms_24h = serializers.FloatField(allow_null=True)


class DriftReportSummarySerializer(serializers.ModelSerializer):
    """A report without its per-feature tests (the lists)."""

    drifted_features = serializers.SerializerMethodField()

    class Meta:
        model = DriftReport
        fields = [
            "id",
            "deployment",
            "version",
            "trigger",
            "window_start",
            "window_end",
            "n_rows",
            "drifted_share",
            "dataset_drift",
            "drifted_features",
            "created_at",
        ]
        read_only_fields = fields

    def get_drifted_features(self, report: DriftReport) -> list[str]:
        return report.result.get("drifted_features", [])


class DriftReportSerializer(DriftReportSummarySerializer):
    """A report with its per-feature tests."""

    class Meta(DriftReportSummarySerializer.Meta):
        fields = [*DriftReportSummarySerializer.Meta.fields, "result"]
        read_only_fields = fields


class DriftReportsSerializer(serializers.Serializer):
    reports = DriftReportSummarySerializer(many=True)


class DriftRequestSerializer(serializers.Serializer):
    deployment = serializers.IntegerField()
    version = serializers.IntegerField(
        required=False, allow_null=True, help_text="default: the deployment's main version"
    )
    hours = serializers.FloatField(required=False, allow_null=True, min_value=0.01)
    share_threshold = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0, max_value=1.0
    )


class VersionPerformanceSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    task = serializers.CharField()
    n = serializers.IntegerField()
    metrics = serializers.DictField(child=serializers.FloatField())
    daily = serializers.ListField(
        child=serializers.DictField(), help_text='{"day", "n", "metrics"} per day'
    )


class PerformanceSerializer(serializers.Serializer):
    deployment = serializers.IntegerField()
    days = serializers.IntegerField()
    versions = VersionPerformanceSerializer(many=True)
    threshold = serializers.DictField()


class FeedbackItemSerializer(serializers.Serializer):
    prediction = serializers.IntegerField(help_text="a prediction log id")
    row = serializers.IntegerField(required=False, default=0)
    label = serializers.JSONField(help_text="the true label (or value) of that row")


class FeedbackRequestSerializer(serializers.Serializer):
    feedback = FeedbackItemSerializer(many=True)


class FeedbackStoredSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


# What an owner sets in a monitoring policy (the page's form lists the same).
POLICY_FIELDS = [
    "enabled",
    "action",
    "share_threshold",
    "alpha",
    "min_rows",
    "window_hours",
    "check_every_hours",
    "retune_every_hours",
    "min_labels",
    "n_trials",
    "significance",
    "require_significant",
]


class MonitoringPolicySerializer(serializers.ModelSerializer):
    """A deployment's monitoring policy; every field has a bound, checked here once (the
    form and the API share it)."""

    share_threshold = serializers.FloatField(min_value=0.01, max_value=1.0, default=0.5)
    alpha = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.05)
    min_rows = serializers.IntegerField(min_value=5, max_value=100_000, default=30)
    window_hours = serializers.FloatField(min_value=0.01, max_value=24 * 366, default=24.0)
    check_every_hours = serializers.FloatField(min_value=0.001, max_value=24 * 366, default=1.0)
    retune_every_hours = serializers.FloatField(max_value=24 * 366, default=24.0)
    min_labels = serializers.IntegerField(min_value=2, max_value=1_000_000, default=30)
    n_trials = serializers.IntegerField(min_value=1, max_value=500, default=10)
    significance = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.05)
    # A deployment without a policy answers the defaults, never saved: no time yet.
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = MonitoringPolicy
        fields = [*POLICY_FIELDS, "last_checked_at", "last_retune_at", "updated_at"]
        read_only_fields = ["last_checked_at", "last_retune_at", "updated_at"]

    def validate_retune_every_hours(self, value: float) -> float:
        from django.conf import settings

        floor = settings.RETUNE_MIN_INTERVAL_HOURS
        if value < floor:
            raise serializers.ValidationError(
                f"at least {floor:g} hours (RETUNE_MIN_INTERVAL_HOURS, the operator's limit)"
            )
        return value


class ActivitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ["id", "kind", "message", "details", "job", "report", "created_at"]
