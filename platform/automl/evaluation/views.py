from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.errors import NotFound
from automl.evaluation import cards, services
from automl.evaluation.models import Evaluation
from automl.evaluation.serializers import (
    CardQuerySerializer,
    ComparisonSerializer,
    EvaluationSerializer,
)
from automl.registry.models import ModelVersion


class EvaluationDetail(APIView):
    @extend_schema(responses={200: EvaluationSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        """The version's evaluation report (404 until one was asked for)."""
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        evaluation = Evaluation.objects.filter(version=version).first()
        if evaluation is None:
            raise NotFound(f"{version} has no evaluation yet; POST here to compute one")
        return Response(EvaluationSerializer(evaluation).data)

    @extend_schema(request=None, responses={202: EvaluationSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        """(Re)compute the report on the rows the version's job held out, in a worker."""
        version = get_object_or_404(
            ModelVersion.objects.owned_by(request.user).select_related("job"), id=pk
        )
        evaluation = services.request_evaluation(version)
        return Response(EvaluationSerializer(evaluation).data, status=status.HTTP_202_ACCEPTED)


class EvaluationCompare(APIView):
    @extend_schema(responses={200: ComparisonSerializer, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int, other: int) -> Response:
        """Is version `other` (B) better than this one (A) on the same held-out rows?"""
        a = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        b = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=other)
        return Response(services.compare(a, b))


class ModelCard(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("output", OpenApiTypes.STR, enum=["markdown", "html"])],
        responses={(200, "text/markdown"): OpenApiTypes.STR, (200, "text/html"): OpenApiTypes.STR},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        """The model card: lineage, data, metrics with intervals, importances, limits."""
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        query = CardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data["output"] == "html":
            return HttpResponse(cards.card_html(version), content_type="text/html")
        return HttpResponse(
            cards.card_markdown(version), content_type="text/markdown; charset=utf-8"
        )
