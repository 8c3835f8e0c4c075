from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.api import error_body
from automl.jobs import lifecycle
from automl.jobs.models import Job, Trial
from automl.jobs.serializers import JobSerializer, JobSubmitSerializer, TrialSerializer
from automl.jobs.services import submit_job


def choice_param(request: Request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise ValidationError({name: f"{value!r} is not one of {', '.join(choices)}"})
    return value


class JobList(generics.ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        jobs = Job.objects.owned_by(self.request.user).select_related("dataset", "owner")
        if kind := choice_param(self.request, "kind", Job.Kind.values):
            jobs = jobs.filter(kind=kind)
        if status_ := choice_param(self.request, "status", Job.Status.values):
            jobs = jobs.filter(status=status_)
        return jobs

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=Job.Kind.values),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Job.Status.values),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=JobSubmitSerializer, responses={201: JobSerializer})
    def post(self, request: Request) -> Response:
        submission = JobSubmitSerializer(data=request.data, context={"request": request})
        submission.is_valid(raise_exception=True)
        job = submit_job(request.user, **submission.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetail(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(
            Job.objects.owned_by(request.user).select_related("dataset", "owner"), id=pk
        )
        return Response(JobSerializer(job).data)


class JobCancel(APIView):
    @extend_schema(request=None, responses={202: JobSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        if not lifecycle.request_cancel(job):
            job.refresh_from_db()
            body = error_body("conflict", f"job {job.id} has already finished ({job.status})")
            return Response(body, status=status.HTTP_409_CONFLICT)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class TrialList(generics.ListAPIView):
    serializer_class = TrialSerializer

    def get_queryset(self) -> QuerySet[Trial]:
        job = get_object_or_404(Job.objects.owned_by(self.request.user), id=self.kwargs["pk"])
        trials = Trial.objects.filter(job=job).order_by("number")
        if state := choice_param(self.request, "state", Trial.State.values):
            trials = trials.filter(state=state)
        return trials

    @extend_schema(
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=Trial.State.values)]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
