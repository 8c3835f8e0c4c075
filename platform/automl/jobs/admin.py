from django.contrib import admin

from automl.jobs.models import Job, Schedule, Trial


class TrialInline(admin.TabularInline):
    model = Trial
    extra = 0
    can_delete = False
    fields = ["number", "state", "values", "params", "error", "finished_at"]
    readonly_fields = fields
    show_change_link = False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "name", "owner", "status", "progress", "created_at"]
    list_filter = ["kind", "status", "queue"]
    search_fields = ["name", "owner__username"]
    readonly_fields = [
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "worker_host",
        "worker_info",
        "attempts",
        "result",
        "error_message",
        "progress",
    ]
    inlines = [TrialInline]


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["job", "number", "state", "values", "finished_at"]
    list_filter = ["state"]
    search_fields = ["job__name"]
    readonly_fields = ["started_at", "finished_at"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "cron", "enabled", "next_run_at", "runs"]
    list_filter = ["enabled"]
    search_fields = ["name", "owner__username", "cron"]
    # Made and changed through automl.jobs.schedules (the job checked, the next run set).
    readonly_fields = [
        "owner",
        "name",
        "cron",
        "job",
        "next_run_at",
        "last_run_at",
        "last_job",
        "last_error",
        "runs",
        "created_at",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False
