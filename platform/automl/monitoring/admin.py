from django.contrib import admin

from automl.monitoring.models import (
    Activity,
    Alert,
    DriftReport,
    Feedback,
    MonitoringPolicy,
    WorkerHeartbeat,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the platform itself: viewed and deleted here, never edited or added."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "deployment",
        "version",
        "trigger",
        "n_rows",
        "drifted_share",
        "dataset_drift",
        "created_at",
    ]
    list_filter = ["trigger", "dataset_drift", "created_at"]
    search_fields = ["deployment__name", "deployment__owner__username", "version__name"]
    readonly_fields = ["created_at", "requested_by", "window_start", "window_end", "result"]
    date_hierarchy = "created_at"


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "deployment", "kind", "value", "threshold", "created_at", "resolved_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["deployment__name", "message"]
    # Staff may resolve an alert by hand (resolved_at); what raised it stays as it was.
    readonly_fields = [
        "deployment",
        "kind",
        "message",
        "value",
        "threshold",
        "report",
        "webhook_status",
        "created_at",
        "updated_at",
    ]


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ["id", "prediction", "row", "label", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["prediction__deployment__name"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "host", "pid", "last_seen", "stopped_at", "concurrency"]
    list_filter = ["host", ("stopped_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "host"]
    readonly_fields = ["started_at", "last_seen", "stopped_at", "info"]


@admin.register(MonitoringPolicy)
class MonitoringPolicyAdmin(admin.ModelAdmin):
    list_display = ["deployment", "enabled", "action", "last_checked_at", "last_retune_at"]
    list_filter = ["enabled", "action"]
    search_fields = ["deployment__name", "deployment__owner__username"]
    readonly_fields = ["last_checked_at", "last_retune_at", "created_at", "updated_at"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["id", "deployment", "kind", "message", "job", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["deployment__name", "deployment__owner__username", "message"]
