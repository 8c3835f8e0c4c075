"""API routes under /api/v1/models/{id}/ (the registry's URL style)."""

from django.urls import path

from automl.evaluation import views
from automl.evaluation.pages import page_urls  # noqa: F401 - included by automl.urls

api_urls = [
    path("<int:pk>/evaluation/", views.EvaluationDetail.as_view(), name="model-evaluation"),
    path(
        "<int:pk>/evaluation/compare/<int:other>/",
        views.EvaluationCompare.as_view(),
        name="model-evaluation-compare",
    ),
    path("<int:pk>/card/", views.ModelCard.as_view(), name="model-card"),
]
