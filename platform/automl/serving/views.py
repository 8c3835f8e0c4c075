from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.serving import traffic
from automl.serving.models import Deployment, PredictionLog
from automl.serving.predict import predict
from automl.serving.serializers import (
    DeploymentCreateSerializer,
    DeploymentSerializer,
    PredictAnswerSerializer,
    PredictionLogSerializer,
    PredictSerializer,
    TrafficSerializer,
)


class DeploymentList(generics.ListAPIView):
    serializer_class = DeploymentSerializer

    def get_queryset(self) -> QuerySet[Deployment]:
        deployments = Deployment.objects.owned_by(self.request.user)
        return deployments.select_related("owner").prefetch_related("route_set")

    @extend_schema(request=DeploymentCreateSerializer, responses={201: DeploymentSerializer})
    def post(self, request: Request) -> Response:
        body = DeploymentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = {"routes": None, **body.validated_data}
        deployment = traffic.create_deployment(request.user, **data)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


class DeploymentDetail(APIView):
    @extend_schema(responses=DeploymentSerializer)
    def get(self, request: Request, pk: int) -> Response:
        deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(request=TrafficSerializer, responses=DeploymentSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        """Change the split and shadow (a split sent alone has no shadow; the previous pair
        can be rolled back to), the alias it follows, the result cache TTL or the batching;
        what the body leaves out stays."""
        deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
        body = TrafficSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "batching" in data:  # checked before the traffic changes, saved after
            traffic.validate_batching(data["batching"])
        if "routes" in data or "shadow" in data:
            deployment = traffic.set_traffic(
                deployment, data.get("routes", deployment.routes), data.get("shadow"), request.user
            )
        if "follows" in data:
            deployment = traffic.set_follows(deployment, data["follows"], request.user)
        if "batching" in data:
            deployment = traffic.set_batching(deployment, data["batching"], request.user)
        if "cache_ttl_s" in data:
            deployment.cache_ttl_s = data["cache_ttl_s"]
            deployment.save(update_fields=["cache_ttl_s"])
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        get_object_or_404(Deployment.objects.owned_by(request.user), id=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeploymentRollback(APIView):
    @extend_schema(request=None, responses={200: DeploymentSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
        deployment = traffic.rollback(deployment, request.user)
        return Response(DeploymentSerializer(deployment).data)


class DeploymentPredict(APIView):
    @extend_schema(request=PredictSerializer, responses=PredictAnswerSerializer)
    def post(self, request: Request, pk: int) -> Response:
        # The rollback history is not needed to answer, and parsing it costs each request.
        deployment = get_object_or_404(
            Deployment.objects.owned_by(request.user).defer("history"), id=pk
        )
        body = PredictSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answer = predict(
            deployment,
            body.validated_data["inputs"],
            body.validated_data.get("seed"),
            explain=body.validated_data["explain"],
        )
        return Response(answer)


class DeploymentPredictions(generics.ListAPIView):
    serializer_class = PredictionLogSerializer

    def get_queryset(self) -> QuerySet[PredictionLog]:
        deployment = get_object_or_404(
            Deployment.objects.owned_by(self.request.user), id=self.kwargs["pk"]
        )
        return PredictionLog.objects.filter(deployment=deployment)
