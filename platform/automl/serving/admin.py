from django.contrib import admin

from automl.serving.models import Deployment, PredictionLog, Route


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "model_name",
        "log_predictions",
        "created_at",
        "updated_at",
    ]
    list_filter = ["log_predictions"]
    search_fields = ["name", "model_name", "owner__username"]
    # Traffic changes go through the API, which validates the versions and keeps history.
    readonly_fields = [
        "owner",
        "model_name",
        "routes",
        "shadow",
        "history",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    """Read-only: traffic changes go through the API (validation, history)."""

    list_display = ["id", "deployment", "version", "weight"]
    list_filter = ["deployment__model_name"]
    search_fields = ["deployment__name", "deployment__owner__username"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PredictionLog)
class PredictionLogAdmin(admin.ModelAdmin):
    list_display = ["id", "deployment", "version", "n_rows", "latency_ms", "cached", "created_at"]
    list_filter = ["cached", "created_at"]
    search_fields = ["deployment__name", "deployment__owner__username"]
    date_hierarchy = "created_at"
    readonly_fields = ["deployment", *PredictionLog.RECORDED]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
