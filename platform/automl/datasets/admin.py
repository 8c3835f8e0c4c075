from django.contrib import admin, messages

from automl.datasets import services
from automl.datasets.models import Dataset
from automl.errors import InUse


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "source",
        "task",
        "n_rows",
        "n_features",
        "profile_status",
        "owner",
        "created_at",
    ]
    list_filter = ["source", "task", "profile_status", "file_format"]
    search_fields = ["name", "owner__username", "sha256"]
    # An upload is immutable: its file and what was read from it stay as they were stored.
    readonly_fields = [
        "created_at",
        "source",
        "builtin_name",
        "file_format",
        "file_path",
        "original_filename",
        "size_bytes",
        "sha256",
        "file_layout",
        "columns",
        "data_kind",
        "task",
        "target_name",
        "n_rows",
        "n_features",
        "profile_status",
        "profile",
        "profile_error",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # uploads go through the API or the data set pages, which check them

    def has_delete_permission(self, request, obj: Dataset | None = None) -> bool:
        return obj is None or not obj.is_builtin

    def delete_model(self, request, obj: Dataset) -> None:
        # Through the service, so that the file goes with the row and a used data set stays.
        try:
            services.delete_dataset(obj)
        except InUse as exc:
            self.message_user(request, f"{obj.name}: {exc.detail}", messages.ERROR)

    def delete_queryset(self, request, queryset) -> None:
        for dataset in queryset.exclude(source=Dataset.Source.BUILTIN):
            self.delete_model(request, dataset)
