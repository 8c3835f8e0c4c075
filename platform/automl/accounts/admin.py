from django.contrib import admin

from automl.accounts.models import Quota, SignInFailure


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "max_active_jobs",
        "max_running_jobs",
        "max_trials_in_flight",
        "max_parallelism",
    ]
    list_filter = ["user__is_staff"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]


@admin.register(SignInFailure)
class SignInFailureAdmin(admin.ModelAdmin):
    """Read-only: the throttle writes these rows; staff look (who is being guessed at, when)."""

    list_display = ["key", "at"]
    list_filter = ["at"]
    search_fields = ["key"]
    readonly_fields = ["key", "at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
