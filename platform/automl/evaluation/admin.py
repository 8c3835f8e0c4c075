from django.contrib import admin

from automl.evaluation.models import Evaluation


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ["id", "version", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["version__name", "version__owner__username", "error"]
    # Reports are computed by the worker; the admin only reads them.
    readonly_fields = [
        "version",
        "status",
        "error",
        "report",
        "answers",
        "rows_key",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False
