"""Routes of serving: API under /api/v1/deployments/, pages under /deployments/."""

from django.urls import path

from automl.serving import pages, views

api_urls = [
    path("", views.DeploymentList.as_view(), name="deployment-list"),
    path("<int:pk>/", views.DeploymentDetail.as_view(), name="deployment-detail"),
    path("<int:pk>/rollback/", views.DeploymentRollback.as_view(), name="deployment-rollback"),
    path("<int:pk>/predict/", views.DeploymentPredict.as_view(), name="deployment-predict"),
    path(
        "<int:pk>/predictions/",
        views.DeploymentPredictions.as_view(),
        name="deployment-predictions",
    ),
]

page_urls = [
    path("", pages.deployment_list, name="deployments-page"),
    path("<int:pk>/", pages.deployment_detail, name="deployment-page"),
    path("<int:pk>/rollback/", pages.deployment_rollback, name="deployment-rollback-page"),
    path("<int:pk>/traffic/", pages.deployment_traffic, name="deployment-traffic-page"),
    path("<int:pk>/monitoring/", pages.deployment_policy, name="deployment-policy-page"),
]
