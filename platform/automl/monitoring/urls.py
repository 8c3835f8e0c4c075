"""Routes of monitoring: API under /api/v1/monitoring/, pages under /monitoring/."""

from django.urls import path

from automl.monitoring import pages, views

api_urls = [
    path("", views.Overview.as_view(), name="monitoring-overview"),
    path("jobs/", views.JobMetrics.as_view(), name="monitoring-jobs"),
    path("queues/", views.Queues.as_view(), name="monitoring-queues"),
    path("workers/", views.Workers.as_view(), name="monitoring-workers"),
    path("alerts/", views.Alerts.as_view(), name="monitoring-alerts"),
    path("drift/", views.DriftReports.as_view(), name="monitoring-drift"),
    path("drift/<int:pk>/", views.DriftReportDetail.as_view(), name="monitoring-drift-detail"),
    path(
        "deployments/<int:pk>/performance/",
        views.Performance.as_view(),
        name="monitoring-performance",
    ),
]

page_urls = [
    path("", pages.dashboard, name="monitoring-page"),
    path("data.json", pages.dashboard_data, name="monitoring-data"),
    path("deployments/<int:pk>/", pages.drift_page, name="monitoring-drift-page"),
    path("deployments/<int:pk>/run/", pages.run_report, name="monitoring-drift-run"),
]
