from django.contrib import admin

from automl.registry.models import ModelAlias, ModelVersion, Webhook, WebhookDelivery


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "version",
        "owner",
        "stage",
        "framework",
        "family",
        "task",
        "source",
        "created_at",
    ]
    list_filter = ["stage", "framework", "task", "source", "family"]
    search_fields = ["name", "owner__username", "description", "sha256"]
    date_hierarchy = "created_at"
    # A version's files and lineage never change; description, tags and stage may (the
    # database constraint still allows one production version per name).
    readonly_fields = [
        "owner",
        "name",
        "version",
        "source",
        "framework",
        "family",
        "task",
        "spec",
        "features",
        "n_features",
        "classes",
        "has_preprocessing",
        "metrics",
        "latency_ms",
        "storage_key",
        "data_file",
        "sha256",
        "size",
        "job",
        "trial_number",
        "dataset",
        "dataset_sha256",
        "parent",
        "compression",
        "config",
        "params",
        "seed",
        "code_version",
        "created_at",
        "stage_changed_at",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # versions come from jobs and imports, which check the files


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "alias", "version", "owner", "updated_at"]
    list_filter = ["alias"]
    search_fields = ["name", "alias", "owner__username"]
    # Moving an alias re-routes deployments that follow it: the API and the model page do
    # that through automl.registry.aliases, so admin shows aliases without editing them.
    readonly_fields = ["owner", "name", "alias", "version", "updated_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["id", "url", "owner", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "owner__username"]
    # The secret signs the owner's deliveries: never shown again after creation.
    exclude = ["secret"]
    readonly_fields = ["owner", "url", "events", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # subscriptions are made through the API or the page (secret, checks)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "webhook",
        "event",
        "status",
        "attempts",
        "response_status",
        "created_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["event", "webhook__url", "error"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False
