"""GET /metrics: Prometheus text format, for a scraper with METRICS_TOKEN or a staff user.

The numbers are read from the database and the broker at scrape time, so every web
process answers the same (no per-process counters to aggregate).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from automl.api import error_body

LATENCY_BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


class PlatformCollector(Collector):
    def collect(self) -> Iterator:
        from automl.jobs.models import Job, Trial
        from automl.monitoring import fleet
        from automl.monitoring.models import Alert, DriftReport
        from automl.serving.models import PredictionLog

        jobs = GaugeMetricFamily(
            "automl_jobs", "Jobs by kind and status.", labels=["kind", "status"]
        )
        for row in Job.objects.values("kind", "status").annotate(n=Count("id")).order_by():
            jobs.add_metric([row["kind"], row["status"]], row["n"])
        yield jobs
        trials = GaugeMetricFamily("automl_trials", "Trials by state.", labels=["state"])
        for row in Trial.objects.values("state").annotate(n=Count("id")).order_by():
            trials.add_metric([row["state"]], row["n"])
        yield trials
        depth = GaugeMetricFamily(
            "automl_queue_depth", "Messages waiting in a broker queue.", labels=["queue"]
        )
        housekeeping = GaugeMetricFamily(
            "automl_queue_housekeeping",
            "Of the messages waiting in a queue, those Celery beat sent (not users' work).",
            labels=["queue"],
        )
        depths = fleet.queue_depths()
        for queue, n in depths["queues"].items():
            if n is not None:
                depth.add_metric([queue], n)
                housekeeping.add_metric([queue], depths["housekeeping"][queue])
        yield depth
        yield housekeeping
        alive = GaugeMetricFamily(
            "automl_worker_up", "1 when the worker beat recently.", labels=["worker"]
        )
        since = GaugeMetricFamily(
            "automl_worker_heartbeat_age_seconds",
            "Seconds since the worker's last heartbeat.",
            labels=["worker"],
        )
        for worker in fleet.workers():
            alive.add_metric([worker.name], 1 if worker.alive else 0)
            since.add_metric([worker.name], worker.seconds_since)
        yield alive
        yield since
        predictions = GaugeMetricFamily(
            "automl_predictions",
            "Logged predict requests (within the log retention).",
            labels=["deployment"],
        )
        for row in (
            PredictionLog.objects.values("deployment__name", "deployment")
            .annotate(n=Count("id"))
            .order_by()
        ):
            predictions.add_metric([f"{row['deployment']}:{row['deployment__name']}"], row["n"])
        yield predictions
        yield self._latency(PredictionLog)
        open_alerts = GaugeMetricFamily(
            "automl_open_alerts", "Open alerts by kind.", labels=["kind"]
        )
        for kind in Alert.Kind.values:
            open_alerts.add_metric(
                [kind], Alert.objects.filter(kind=kind, resolved_at__isnull=True).count()
            )
        yield open_alerts
        share = GaugeMetricFamily(
            "automl_drift_share",
            "Drifted feature share of the latest report per deployment.",
            labels=["deployment"],
        )
        latest = {}
        for report in DriftReport.objects.order_by("deployment", "-created_at", "-id").values(
            "deployment", "drifted_share"
        ):
            latest.setdefault(report["deployment"], report["drifted_share"])
        for deployment, value in latest.items():
            share.add_metric([str(deployment)], value)
        yield share

    @staticmethod
    def _latency(model) -> HistogramMetricFamily:
        """Predict latency over the last 24 hours of logged requests."""
        recent = model.objects.filter(created_at__gte=timezone.now() - timedelta(hours=24))
        aggregates = recent.aggregate(
            total=Sum("latency_ms"),
            n=Count("id"),
            **{
                f"le{i}": Count("id", filter=Q(latency_ms__lte=bound))
                for i, bound in enumerate(LATENCY_BUCKETS_MS)
            },
        )
        buckets = [
            (str(bound / 1000), aggregates[f"le{i}"]) for i, bound in enumerate(LATENCY_BUCKETS_MS)
        ]
        buckets.append(("+Inf", aggregates["n"]))
        histogram = HistogramMetricFamily(
            "automl_predict_latency_seconds",
            "Predict latency of requests logged in the last 24 hours.",
        )
        histogram.add_metric([], buckets, (aggregates["total"] or 0.0) / 1000)
        return histogram


def _access(request: HttpRequest) -> int:
    """200 for METRICS_TOKEN as a Bearer token or a staff user (API token or session);
    403 for another known user; 401 for anyone else."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = settings.METRICS_TOKEN
        given = header.removeprefix("Bearer ").encode()
        return 200 if token and hmac.compare_digest(given, token.encode()) else 401
    user = request.user
    if header.startswith("Token "):
        from rest_framework.authtoken.models import Token

        key = header.removeprefix("Token ").strip()
        found = Token.objects.filter(key=key).select_related("user").first()
        user = found.user if found and found.user.is_active else None
    if user is None or not user.is_authenticated:
        return 401
    return 200 if user.is_staff else 403


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if (status := _access(request)) != 200:
        body = error_body(
            "forbidden" if status == 403 else "not_authenticated",
            "/metrics needs METRICS_TOKEN (Authorization: Bearer ...) or a staff login",
        )
        response = JsonResponse(body, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
