"""The shapes of the monitoring API's answers and bodies, for the OpenAPI schema.

The views build their answers in automl.monitoring.services as plain dicts; these
serializers only describe them (and the two request bodies) to drf-spectacular.
"""

from rest_framework import serializers


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


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField()
    host = serializers.CharField()
    pid = serializers.IntegerField()
    queues = serializers.ListField(child=serializers.CharField())
    concurrency = serializers.IntegerField()
    alive = serializers.BooleanField()
    last_seen = serializers.DateTimeField()
    seconds_since = serializers.FloatField()
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    running_jobs = serializers.IntegerField()


class WorkersSerializer(serializers.Serializer):
    workers = WorkerSerializer(many=True)


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    deployment = serializers.IntegerField()
    deployment_name = serializers.CharField()
    message = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    report = serializers.IntegerField(allow_null=True)
    webhook_status = serializers.CharField(allow_blank=True, allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class AlertsSerializer(serializers.Serializer):
    alerts = AlertSerializer(many=True)


class OverviewSerializer(serializers.Serializer):
    jobs = JobMetricsSerializer()
    queues = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    workers = WorkerSerializer(many=True)
    open_alerts = AlertSerializer(many=True)
    predictions_24h = serializers.IntegerField()
    latency_ms_24h = serializers.FloatField(allow_null=True)


class DriftReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    deployment = serializers.IntegerField()
    version = serializers.IntegerField(allow_null=True)
    trigger = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    n_rows = serializers.IntegerField()
    drifted_share = serializers.FloatField(allow_null=True)
    dataset_drift = serializers.BooleanField(allow_null=True)
    drifted_features = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    result = serializers.DictField(required=False, help_text="per feature tests (detail only)")


class DriftReportsSerializer(serializers.Serializer):
    reports = DriftReportSerializer(many=True)


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
