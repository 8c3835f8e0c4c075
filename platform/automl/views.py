"""Site-level pages: health probes and the landing page."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from automl.celery import app as celery_app


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker both answer."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(error is None for error in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: error or "ok" for name, error in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: the four steps from data to a served model, each with what the
    signed-in user already has."""
    context = {}
    if request.user.is_authenticated:
        from automl.datasets.models import Dataset
        from automl.jobs.models import Job
        from automl.registry.models import ModelVersion
        from automl.serving.models import Deployment

        user = request.user
        context = {
            "n_datasets": Dataset.objects.filter(owner=user).count(),
            "n_running": Job.objects.filter(owner=user, status=Job.Status.RUNNING).count(),
            "n_queued": Job.objects.filter(owner=user, status=Job.Status.QUEUED).count(),
            "n_models": ModelVersion.objects.filter(owner=user).count(),
            "n_deployments": Deployment.objects.filter(owner=user).count(),
            "recent_jobs": Job.objects.filter(owner=user).order_by("-id")[:5],
        }
    return render(request, "home.html", context)
