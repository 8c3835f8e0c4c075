from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from automl import views
from automl.accounts.pages import page_urls as account_pages
from automl.accounts.views import TokenView
from automl.charts import plotly_js
from automl.datasets.urls import page_urls as dataset_pages
from automl.datasets.views import DatasetDetail, DatasetList, DatasetRows
from automl.evaluation import urls as evaluation_urls
from automl.jobs.export import TrialsCSV
from automl.jobs.pages import page_urls as job_pages
from automl.jobs.views import (
    JobCancel,
    JobDetail,
    JobExtend,
    JobLeaderboard,
    JobList,
    JobPause,
    JobRegisterBest,
    JobResume,
    JobRetryStage,
    JobSearchChart,
    ScheduleDetail,
    ScheduleList,
    TrialAsk,
    TrialDetail,
    TrialFiles,
    TrialHeartbeat,
    TrialList,
    TrialLogView,
    TrialReport,
    TrialRerun,
    TrialTell,
)
from automl.monitoring import urls as monitoring_urls
from automl.monitoring.metrics import metrics
from automl.monitoring.views import (
    DeploymentActivity,
    DeploymentFeedback,
    DeploymentPolicy,
    DeploymentPolicyCheck,
)
from automl.registry import urls as registry_urls
from automl.serving import urls as serving_urls

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("datasets/", DatasetList.as_view(), name="dataset-list"),
    path("datasets/<int:pk>/", DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<int:pk>/rows/", DatasetRows.as_view(), name="dataset-rows"),
    path("jobs/", JobList.as_view(), name="job-list"),
    path("jobs/<int:pk>/", JobDetail.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", JobCancel.as_view(), name="job-cancel"),
    path("jobs/<int:pk>/leaderboard/", JobLeaderboard.as_view(), name="job-leaderboard"),
    path("jobs/<int:pk>/search-chart/", JobSearchChart.as_view(), name="job-search-chart"),
    path("jobs/<int:pk>/pause/", JobPause.as_view(), name="job-pause"),
    path("jobs/<int:pk>/resume/", JobResume.as_view(), name="job-resume"),
    path("jobs/<int:pk>/extend/", JobExtend.as_view(), name="job-extend"),
    path("jobs/<int:pk>/register-best/", JobRegisterBest.as_view(), name="job-register-best"),
    path("jobs/<int:pk>/retry-stage/", JobRetryStage.as_view(), name="job-retry-stage"),
    path("schedules/", ScheduleList.as_view(), name="schedule-list"),
    path("schedules/<int:pk>/", ScheduleDetail.as_view(), name="schedule-detail"),
    path("jobs/<int:pk>/trials/", TrialList.as_view(), name="job-trials"),
    path("jobs/<int:pk>/trials.csv", TrialsCSV.as_view(), name="job-trials-csv"),
    path("jobs/<int:pk>/trials/ask/", TrialAsk.as_view(), name="trial-ask"),
    path("jobs/<int:pk>/trials/<int:number>/report/", TrialReport.as_view(), name="trial-report"),
    path(
        "jobs/<int:pk>/trials/<int:number>/heartbeat/",
        TrialHeartbeat.as_view(),
        name="trial-heartbeat",
    ),
    path("jobs/<int:pk>/trials/<int:number>/tell/", TrialTell.as_view(), name="trial-tell"),
    path("jobs/<int:pk>/trials/<int:number>/", TrialDetail.as_view(), name="trial-detail"),
    path("jobs/<int:pk>/trials/<int:number>/log/", TrialLogView.as_view(), name="trial-log"),
    path("jobs/<int:pk>/trials/rerun/", TrialRerun.as_view(), name="job-trials-rerun"),
    path("jobs/<int:pk>/trials/<int:number>/files/", TrialFiles.as_view(), name="trial-files"),
    path("models/", include(registry_urls.api_urls)),
    path("webhooks/", include(registry_urls.webhook_urls)),
    path("models/", include(evaluation_urls.api_urls)),
    path("deployments/", include(serving_urls.api_urls)),
    path(
        "deployments/<int:pk>/feedback/", DeploymentFeedback.as_view(), name="deployment-feedback"
    ),
    path(
        "deployments/<int:pk>/monitoring-policy/",
        DeploymentPolicy.as_view(),
        name="deployment-policy",
    ),
    path(
        "deployments/<int:pk>/monitoring-policy/check/",
        DeploymentPolicyCheck.as_view(),
        name="deployment-policy-check",
    ),
    path(
        "deployments/<int:pk>/activity/", DeploymentActivity.as_view(), name="deployment-activity"
    ),
    path("monitoring/", include(monitoring_urls.api_urls)),
]

# The schema in JSON first: generators read it, and its errors are JSON like the rest of the
# API (`Accept: application/json` included); YAML with ?format=yaml or an Accept asking for it.
SCHEMA_RENDERERS = [
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("datasets/", include(dataset_pages)),
    path("jobs/", include(job_pages)),
    path("accounts/", include(account_pages)),
    path("vendor/plotly.min.js", plotly_js, name="plotly-js"),
    # Browsers and crawlers ask for /favicon.ico whatever the pages link to.
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("img/favicon.svg"), permanent=True),
        name="favicon",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("models/", include(registry_urls.page_urls)),
    path("models/", include(evaluation_urls.page_urls)),
    path("deployments/", include(serving_urls.page_urls)),
    path("monitoring/", include(monitoring_urls.page_urls)),
    path("metrics", metrics, name="metrics"),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(renderer_classes=SCHEMA_RENDERERS),
        name="api-schema",
    ),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file: no inline script (CSP).
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]

handler404 = "automl.api.not_found"
handler500 = "automl.api.server_error"
