"""Routes of the model repository: API under /api/v1/models/, pages under /models/."""

from django.urls import path

from automl.registry import pages, views

api_urls = [
    path("", views.ModelList.as_view(), name="model-list"),
    path("import/", views.ModelImport.as_view(), name="model-import"),
    path("compare/", views.ModelCompare.as_view(), name="model-compare"),
    path("<int:pk>/", views.ModelDetail.as_view(), name="model-detail"),
    path("<int:pk>/stage/", views.ModelStage.as_view(), name="model-stage"),
    path("<int:pk>/aliases/", views.ModelAliases.as_view(), name="model-aliases"),
    path("<int:pk>/aliases/<str:alias>/", views.ModelAlias.as_view(), name="model-alias"),
    path("<int:pk>/download/", views.ModelDownload.as_view(), name="model-download"),
    path("<int:pk>/export/<str:fmt>/", views.ModelExport.as_view(), name="model-export"),
    path("<int:pk>/bundle/", views.ModelBundle.as_view(), name="model-bundle"),
    path("<int:pk>/triton/", views.ModelTriton.as_view(), name="model-triton"),
]

webhook_urls = [
    path("", views.WebhookList.as_view(), name="webhook-list"),
    path("<int:pk>/", views.WebhookDetail.as_view(), name="webhook-detail"),
    path("<int:pk>/deliveries/", views.WebhookDeliveries.as_view(), name="webhook-deliveries"),
]

page_urls = [
    path("", pages.model_list, name="models-page"),
    path("compare/", pages.model_compare, name="model-compare-page"),
    path("import/", pages.model_import, name="model-import-page"),
    path("webhooks/", pages.webhook_list, name="webhooks-page"),
    path("webhooks/<int:pk>/", pages.webhook_detail, name="webhook-page"),
    path("<int:pk>/", pages.model_detail, name="model-page"),
    path("<int:pk>/stage/", pages.model_stage, name="model-stage-page"),
    path("<int:pk>/alias/", pages.model_alias, name="model-alias-page"),
]
