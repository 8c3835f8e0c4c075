from django.contrib import admin

from automl.accounts.models import Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "max_active_jobs"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
