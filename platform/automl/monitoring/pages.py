"""Staff pages: the dashboard (refreshing itself from data.json) and a drift page per
deployment. Anyone else gets a 404, as if the pages did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from automl.charts import figure_html, plotly_js_tag, themed
from automl.errors import as_message
from automl.monitoring import charts, drift, feedback, fleet
from automl.monitoring.models import DriftReport
from automl.monitoring.serializers import DriftReportSummarySerializer, OverviewSerializer
from automl.serving.models import Deployment


def staff_only(view: Callable) -> Callable:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return wrapper


def _figures(data: dict) -> dict:
    return {
        "jobs": themed(charts.jobs_by_status(data["jobs"])).to_plotly_json(),
        "durations": themed(charts.job_durations(data["jobs"])).to_plotly_json(),
        "queues": themed(
            charts.queue_depths(data["queues"], data["housekeeping"])
        ).to_plotly_json(),
    }


@staff_only
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    data = OverviewSerializer(fleet.overview()).data
    return render(
        request,
        "monitoring/dashboard.html",
        {
            "data": data,
            "plotly_js": plotly_js_tag(),
            "jobs_chart": figure_html(charts.jobs_by_status(data["jobs"]), height=320),
            "durations_chart": figure_html(charts.job_durations(data["jobs"]), height=320),
            "queues_chart": figure_html(
                charts.queue_depths(data["queues"], data["housekeeping"]), height=320
            ),
            "deployments": Deployment.objects.select_related("owner").order_by("name")[:200],
        },
    )


@staff_only
@require_GET
def dashboard_data(request: HttpRequest) -> JsonResponse:
    """What the dashboard's script redraws every few seconds."""
    from plotly.utils import PlotlyJSONEncoder

    data = OverviewSerializer(fleet.overview()).data
    return JsonResponse({"data": data, "figures": _figures(data)}, encoder=PlotlyJSONEncoder)


@staff_only
@require_GET
def drift_page(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = get_object_or_404(Deployment.objects.select_related("owner"), id=pk)
    reports = list(DriftReport.objects.filter(deployment=deployment)[:50])
    latest = reports[0] if reports else None
    features = []
    if latest is not None:
        for name, feature in latest.result.get("features", {}).items():
            features.append(
                {
                    "name": name,
                    **feature,
                    "chart": figure_html(charts.feature_histogram(name, feature), height=280),
                }
            )
        features.sort(key=lambda f: (not f["drifted"], f["name"]))
    performance = feedback.performance(deployment)
    return render(
        request,
        "monitoring/drift.html",
        {
            "deployment": deployment,
            "latest": latest,
            "features": features,
            "reports": reports,
            "plotly_js": plotly_js_tag(),
            "history_chart": figure_html(
                charts.drift_history(
                    DriftReportSummarySerializer(reversed(reports), many=True).data
                ),
                height=260,
            ),
            "performance": performance,
            "performance_chart": figure_html(charts.live_accuracy(performance), height=260)
            if performance["versions"]
            else None,
            "alerts": deployment.alerts.all()[:20],
            "prediction_drift": latest.result.get("prediction_drift") if latest else None,
        },
    )


@staff_only
@require_POST
@as_message("monitoring-drift-page")
def run_report(request: HttpRequest, pk: int) -> HttpResponse:
    drift.run_drift_report(get_object_or_404(Deployment, id=pk), user=request.user)
    messages.success(request, "Drift report done.")
    return redirect("monitoring-drift-page", pk=pk)
