"""REST endpoints of monitoring: staff only under /api/v1/monitoring/; the feedback endpoint
belongs to the deployment's owner."""

from __future__ import annotations

from numbers import Real
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.errors import Invalid
from automl.monitoring import drift, feedback, fleet
from automl.monitoring import serializers as shapes
from automl.monitoring.models import Activity, Alert, DriftReport, MonitoringPolicy
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment

MAX_WINDOW_HOURS = 24 * 365
# Query parameters, as the schema documents them.
HOURS = OpenApiParameter("hours", int, description="window in hours (default 24)")
DAYS = OpenApiParameter("days", int, description="window in days (default 30)")
OPEN = OpenApiParameter("open", bool, description="only unresolved alerts")
DEPLOYMENT = OpenApiParameter("deployment", int, description="one deployment's only")


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise Invalid.from_fields({name: ["must be a positive integer"]})
    return int(value)


class StaffView(APIView):
    """Staff only: others get a 403 (or 401 without credentials)."""

    permission_classes = [permissions.IsAdminUser]


class Overview(StaffView):
    @extend_schema(responses=shapes.OverviewSerializer)
    def get(self, request: Request) -> Response:
        return Response(shapes.OverviewSerializer(fleet.overview()).data)


class JobMetrics(StaffView):
    @extend_schema(parameters=[HOURS], responses=shapes.JobMetricsSerializer)
    def get(self, request: Request) -> Response:
        hours = _int_param(request, "hours") or 24
        return Response(
            shapes.JobMetricsSerializer(fleet.job_metrics(min(hours, MAX_WINDOW_HOURS))).data
        )


class Queues(StaffView):
    @extend_schema(responses=shapes.QueuesSerializer)
    def get(self, request: Request) -> Response:
        return Response(shapes.QueuesSerializer(fleet.queue_depths()).data)


class Workers(StaffView):
    @extend_schema(responses=shapes.WorkersSerializer)
    def get(self, request: Request) -> Response:
        return Response(shapes.WorkersSerializer({"workers": fleet.workers()}).data)


class Alerts(StaffView):
    @extend_schema(parameters=[OPEN, DEPLOYMENT], responses=shapes.AlertsSerializer)
    def get(self, request: Request) -> Response:
        alerts = Alert.objects.select_related("deployment")
        if request.query_params.get("open") in ("1", "true"):
            alerts = alerts.filter(resolved_at__isnull=True)
        if (deployment := _int_param(request, "deployment")) is not None:
            alerts = alerts.filter(deployment=deployment)
        return Response(shapes.AlertsSerializer({"alerts": alerts[:500]}).data)


def _number(body: dict, name: str, low: float, high: float, errors: dict[str, list[str]]) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, Real) or isinstance(value, bool) or not low <= value <= high:
        errors[name] = [f"must be a number from {low:g} to {high:g}"]
    return value


class DriftReports(StaffView):
    @extend_schema(
        operation_id="v1_monitoring_drift_list",
        parameters=[DEPLOYMENT],
        responses=shapes.DriftReportsSerializer,
    )
    def get(self, request: Request) -> Response:
        reports = DriftReport.objects.all()
        if (deployment := _int_param(request, "deployment")) is not None:
            reports = reports.filter(deployment=deployment)
        return Response(shapes.DriftReportsSerializer({"reports": reports[:200]}).data)

    @extend_schema(
        request=shapes.DriftRequestSerializer,
        responses={201: shapes.DriftReportSerializer, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        """Run a report now: {"deployment": id, "version": id?, "hours": h?,
        "share_threshold": s?}."""
        body = request.data
        if not isinstance(body, dict):
            raise Invalid.from_fields({"": ["a JSON object is required"]})
        errors: dict[str, list[str]] = {}
        if unknown := set(body) - {"deployment", "version", "hours", "share_threshold"}:
            errors["body"] = [f"unknown fields: {', '.join(sorted(map(str, unknown)))}"]
        deployment = version = None
        if type(body.get("deployment")) is int:
            deployment = Deployment.objects.filter(id=body["deployment"]).first()
        if deployment is None:
            errors["deployment"] = ["the id of an existing deployment is required"]
        if body.get("version") is not None and deployment is not None:
            if type(body["version"]) is int:
                version = ModelVersion.objects.filter(
                    id=body["version"], owner=deployment.owner_id, name=deployment.model_name
                ).first()
            if version is None:
                errors["version"] = ["must be the id of a version of the deployed model"]
        hours = _number(body, "hours", 0.01, MAX_WINDOW_HOURS, errors)
        share = _number(body, "share_threshold", 0.0, 1.0, errors)
        if errors:
            raise Invalid.from_fields(errors)
        report = drift.run_drift_report(
            deployment,
            version=version,
            hours=hours,
            user=request.user,
            share_threshold=share,
            trigger=DriftReport.Trigger.MANUAL,
        )
        return Response(shapes.DriftReportSerializer(report).data, status=status.HTTP_201_CREATED)


class DriftReportDetail(StaffView):
    @extend_schema(responses=shapes.DriftReportSerializer)
    def get(self, request: Request, pk: int) -> Response:
        report = get_object_or_404(DriftReport, id=pk)
        return Response(shapes.DriftReportSerializer(report).data)


class Performance(StaffView):
    @extend_schema(parameters=[DAYS], responses=shapes.PerformanceSerializer)
    def get(self, request: Request, pk: int) -> Response:
        deployment = get_object_or_404(Deployment, id=pk)
        days = _int_param(request, "days") or 30
        return Response(
            shapes.PerformanceSerializer(
                feedback.performance(deployment, days=min(days, 3650))
            ).data
        )


class DeploymentFeedback(APIView):
    """POST true labels for logged predictions of one of your deployments:
    {"feedback": [{"prediction": <log id>, "row": 0, "label": y}, ...]}."""

    @extend_schema(
        request=shapes.FeedbackRequestSerializer, responses={201: shapes.FeedbackStoredSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
        body = request.data
        if not isinstance(body, dict) or "feedback" not in body:
            raise Invalid.from_fields(
                {"feedback": ['required: [{"prediction", "row", "label"}, ...]']}
            )
        stored = feedback.record_feedback(deployment, body["feedback"])
        return Response(stored, status=status.HTTP_201_CREATED)


class DeploymentPolicy(APIView):
    """The monitoring policy of one of your deployments: GET it (the defaults, with
    "exists": false, before one is set), PUT it whole or PATCH some fields, DELETE it."""

    def _deployment(self, request: Request, pk: int) -> Deployment:
        return get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)

    @extend_schema(responses=shapes.MonitoringPolicySerializer)
    def get(self, request: Request, pk: int) -> Response:
        deployment = self._deployment(request, pk)
        policy = MonitoringPolicy.objects.filter(deployment=deployment).first()
        body = shapes.MonitoringPolicySerializer(policy or MonitoringPolicy()).data
        return Response({**body, "deployment": deployment.id, "exists": policy is not None})

    @extend_schema(
        request=shapes.MonitoringPolicySerializer, responses=shapes.MonitoringPolicySerializer
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._save(request, pk, partial=False)

    @extend_schema(
        request=shapes.MonitoringPolicySerializer, responses=shapes.MonitoringPolicySerializer
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._save(request, pk, partial=True)

    def _save(self, request: Request, pk: int, *, partial: bool) -> Response:
        deployment = self._deployment(request, pk)
        policy = MonitoringPolicy.objects.filter(deployment=deployment).first()
        body = shapes.MonitoringPolicySerializer(policy, data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        policy = body.save(deployment=deployment)
        return Response({**body.data, "deployment": deployment.id, "exists": True})

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        deployment = self._deployment(request, pk)
        MonitoringPolicy.objects.filter(deployment=deployment).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeploymentPolicyCheck(APIView):
    """POST: run your deployment's monitoring policy now (as the periodic check does, rate
    limit included); answers its decision and the newest activity."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        from automl.monitoring import policies

        deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
        policy = MonitoringPolicy.objects.filter(deployment=deployment).first()
        if policy is None:
            raise Invalid.from_fields({"policy": ["this deployment has no monitoring policy"]})
        if not policy.enabled:
            raise Invalid.from_fields({"enabled": ["the policy is switched off"]})
        decision = policies.check(policy, trigger=DriftReport.Trigger.MANUAL)
        entries = Activity.objects.filter(deployment=deployment)[:5]
        return Response(
            {
                "retune": decision.retune,
                "reason": decision.reason,
                "activity": shapes.ActivitySerializer(entries, many=True).data,
            }
        )


class DeploymentActivity(generics.ListAPIView):
    """The activity log of one of your deployments: each automatic action, newest first."""

    serializer_class = shapes.ActivitySerializer

    def get_queryset(self):
        deployment = get_object_or_404(
            Deployment.objects.owned_by(self.request.user), id=self.kwargs["pk"]
        )
        return Activity.objects.filter(deployment=deployment)
