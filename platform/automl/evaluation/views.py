from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.api import error_body, owned_or_404, refusal
from automl.evaluation import cards, services
from automl.evaluation.models import Evaluation
from automl.evaluation.serializers import (
    CardQuerySerializer,
    ComparisonSerializer,
    EvaluationSerializer,
)
from automl.registry.models import ModelVersion


def evaluation_error(exc: services.EvaluationError) -> Response:
    return refusal(exc.detail, exc.fields, exc.status)


class EvaluationDetail(APIView):
    @extend_schema(responses={200: EvaluationSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        """The version's evaluation report (404 until one was asked for)."""
        version = owned_or_404(ModelVersion.objects.all(), request.user, id=pk)
        evaluation = Evaluation.objects.filter(version=version).first()
        if evaluation is None:
            return Response(
                error_body(
                    "not_found", f"{version} has no evaluation yet; POST here to compute one"
                ),
                status=404,
            )
        return Response(EvaluationSerializer(evaluation).data)

    @extend_schema(request=None, responses={202: EvaluationSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        """(Re)compute the report on the rows the version's job held out, in a worker."""
        version = owned_or_404(ModelVersion.objects.select_related("job"), request.user, id=pk)
        try:
            evaluation = services.request_evaluation(version)
        except services.EvaluationError as exc:
            return evaluation_error(exc)
        return Response(EvaluationSerializer(evaluation).data, status=status.HTTP_202_ACCEPTED)


class EvaluationCompare(APIView):
    @extend_schema(responses={200: ComparisonSerializer, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int, other: int) -> Response:
        """Is version `other` (B) better than this one (A) on the same held-out rows?"""
        a = owned_or_404(ModelVersion.objects.all(), request.user, id=pk)
        b = owned_or_404(ModelVersion.objects.all(), request.user, id=other)
        try:
            return Response(services.compare(a, b))
        except services.EvaluationError as exc:
            return evaluation_error(exc)


class ModelCard(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("output", OpenApiTypes.STR, enum=["markdown", "html"])],
        responses={(200, "text/markdown"): OpenApiTypes.STR, (200, "text/html"): OpenApiTypes.STR},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        """The model card: lineage, data, metrics with intervals, importances, limits."""
        version = owned_or_404(ModelVersion.objects.all(), request.user, id=pk)
        query = CardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data["output"] == "html":
            return HttpResponse(cards.card_html(version), content_type="text/html")
        return HttpResponse(
            cards.card_markdown(version), content_type="text/markdown; charset=utf-8"
        )
