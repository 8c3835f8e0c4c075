from django.contrib import admin

from automl.datasets.models import Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "source", "task", "n_rows", "n_features", "owner", "created_at"]
    list_filter = ["source", "task"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["created_at"]
