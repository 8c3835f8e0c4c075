from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.api import error_body
from automl.errors import Conflict
from automl.jobs import kinds, lifecycle, search_charts
from automl.jobs.explorer import TrialQuery, columns_for
from automl.jobs.leaderboard import leaderboard
from automl.jobs.models import Job, Schedule, Trial
from automl.jobs.runners import external
from automl.jobs.serializers import (
    AskAnswerSerializer,
    AskSerializer,
    ExtendSerializer,
    HeartbeatAnswerSerializer,
    JobDetailSerializer,
    JobSerializer,
    JobSubmitSerializer,
    LeaderboardSerializer,
    ReportAnswerSerializer,
    ReportSerializer,
    RerunAnswerSerializer,
    RerunSerializer,
    RetryStageSerializer,
    ScheduleCreateSerializer,
    ScheduleSerializer,
    ScheduleUpdateSerializer,
    TellSerializer,
    TrialCurationSerializer,
    TrialFilesAnswerSerializer,
    TrialLogSerializer,
    TrialSerializer,
    TrialTokenSerializer,
    submit_serializers,
)
from automl.jobs.services import (
    curate_trial,
    extend_job,
    pause_job,
    register_best_so_far,
    rerun_failed,
    resume_job,
    retry_stage,
    submit_job,
)


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

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="JobSubmission",
            serializers=submit_serializers,
            resource_type_field_name="kind",
        ),
        responses={201: JobSerializer},
    )
    def post(self, request: Request) -> Response:
        submission = JobSubmitSerializer(data=request.data, context={"request": request})
        submission.is_valid(raise_exception=True)
        job = submit_job(request.user, **submission.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetail(APIView):
    @extend_schema(responses=JobDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(
            Job.objects.owned_by(request.user).select_related("dataset", "owner"), id=pk
        )
        return Response(JobDetailSerializer(job).data)


class JobLeaderboard(APIView):
    """Each model family's best and the ensembles, ranked (automl/jobs/leaderboard.py)."""

    @extend_schema(responses=LeaderboardSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        return Response(LeaderboardSerializer(leaderboard(job)).data)


class JobSearchChart(APIView):
    """One chart of the job's search space, as the job page's picker draws it
    (automl/jobs/search_charts.py): parallel coordinates, contour, slice or the objective's
    empirical distribution, for one model family and the parameters picked."""

    @extend_schema(
        parameters=[
            OpenApiParameter("chart", str, enum=list(search_charts.CHARTS)),
            OpenApiParameter(
                "family", str, description="a model family, or 'all'; default: the best's"
            ),
            OpenApiParameter(
                "param", str, many=True, description="default: the most important few"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        return Response(search_charts.answer(job, request.query_params))


class JobCancel(APIView):
    @extend_schema(request=None, responses={202: JobSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        if not lifecycle.request_cancel(job, request.user):
            job.refresh_from_db()
            body = error_body("conflict", f"job {job.id} has already finished ({job.status})")
            return Response(body, status=status.HTTP_409_CONFLICT)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class TrialList(generics.ListAPIView):
    """A job's trials a page at a time, filtered and sorted by the database (see
    automl.jobs.explorer for the query string); every trial is reachable."""

    serializer_class = TrialSerializer

    def get_queryset(self) -> QuerySet[Trial]:
        job = get_object_or_404(Job.objects.owned_by(self.request.user), id=self.kwargs["pk"])
        query = TrialQuery.parse(self.request.query_params, columns_for(job))
        return query.apply(Trial.objects.filter(job=job).defer("log"))

    @extend_schema(
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=Trial.State.values),
            OpenApiParameter(
                "family",
                OpenApiTypes.STR,
                description="Trials of one model family (the search space's choice "
                "parameter, `model` under model: auto), e.g. `svm`.",
            ),
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                description="number (default), value (the first objective), state, duration, "
                "started_at, finished_at or params.<name> (e.g. params.svm.C); prefix - "
                "for descending. Trials without it come last.",
            ),
            OpenApiParameter(
                "min.<name>",
                OpenApiTypes.NUMBER,
                description="Numeric parameter <name> at least this (max.<name>: at most), "
                "e.g. `min.svm.C=0.1&max.svm.C=10`.",
            ),
            OpenApiParameter(
                "is.<name>",
                OpenApiTypes.STR,
                description="Categorical parameter <name> equal to this; repeat it for any "
                "of several, e.g. `is.svm.kernel=rbf`.",
            ),
        ],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


# --- external trials (automl.jobs.runners.external): the user's machines call these


class ExternalTrialView(APIView):
    """What every external-trial endpoint does first: the caller's job (another user's is
    a 404), one that takes external trials and is running; and the trial's token."""

    def running_job(self, request: Request, pk: int) -> Job:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        if not kinds.get(job.kind).external_trials:
            raise Conflict(f"job {job.id}'s trials run on the platform's workers, not yours")
        return external.running_job(job)

    def checked(self, request: Request, pk: int, number: int, serializer_class) -> tuple:
        job = self.running_job(request, pk)
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        external.check_token(job, number, body.validated_data["token"])
        return job, body.validated_data


class TrialAsk(ExternalTrialView):
    @extend_schema(
        request=AskSerializer, responses={200: AskAnswerSerializer, 409: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, pk: int) -> Response:
        """A trial to run (its number, parameters and token), or wait, or done. Several
        machines may ask at once: the job's budget of trials is kept exactly."""
        job = self.running_job(request, pk)
        body = AskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answer = external.ask(job, body.validated_data["worker"])
        lost_after_s = job.typed_config.lost_after_s
        return Response(
            {
                "status": answer.step,
                "number": answer.number,
                "params": answer.params,
                "token": external.trial_token(job, answer.number)
                if answer.number is not None
                else None,
                "heartbeat_s": lost_after_s / 4,
                "retry_after_s": min(5.0, lost_after_s / 4) if answer.step == "wait" else None,
            }
        )


class TrialReport(ExternalTrialView):
    @extend_schema(
        request=ReportSerializer, responses={200: ReportAnswerSerializer, 409: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, pk: int, number: int) -> Response:
        """An intermediate value (also a heartbeat); whether to stop the trial (pruned)."""
        job, body = self.checked(request, pk, number, ReportSerializer)
        should_prune = external.report(job, number, body["step"], body["value"])
        return Response({"should_prune": should_prune})


class TrialHeartbeat(ExternalTrialView):
    @extend_schema(
        request=TrialTokenSerializer,
        responses={200: HeartbeatAnswerSerializer, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int, number: int) -> Response:
        """The trial still runs; a 409 says it was failed as lost (stop, ask again)."""
        job, _ = self.checked(request, pk, number, TrialTokenSerializer)
        external.heartbeat(job, number)
        return Response({"state": "running"})


class TrialTell(ExternalTrialView):
    @extend_schema(
        request=TellSerializer, responses={200: TrialSerializer, 409: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, pk: int, number: int) -> Response:
        """End the trial: complete with its value(s), pruned, or failed with why."""
        job, body = self.checked(request, pk, number, TellSerializer)
        trial = external.tell(job, number, body["state"], body["values"], body["error"])
        return Response(TrialSerializer(trial).data)


class TrialDetail(APIView):
    """One trial; PATCH sets its notes, tags, or exclusion (with a reason)."""

    def trial(self, request: Request, pk: int, number: int) -> Trial:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        return get_object_or_404(Trial.objects.defer("log"), job=job, number=number)

    @extend_schema(responses=TrialSerializer)
    def get(self, request: Request, pk: int, number: int) -> Response:
        return Response(TrialSerializer(self.trial(request, pk, number)).data)

    @extend_schema(request=TrialCurationSerializer, responses=TrialSerializer)
    def patch(self, request: Request, pk: int, number: int) -> Response:
        trial = self.trial(request, pk, number)
        body = TrialCurationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        trial = curate_trial(trial, request.user, **body.validated_data)
        return Response(TrialSerializer(trial).data)


class TrialLogView(APIView):
    """What one trial printed: stdout, stderr and logging, bounded and redacted."""

    @extend_schema(responses=TrialLogSerializer)
    def get(self, request: Request, pk: int, number: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        trial = get_object_or_404(Trial, job=job, number=number)
        return Response(TrialLogSerializer(trial).data)


class TrialRerun(APIView):
    """Run a finished job's failed trials again with the same parameters, as new trials."""

    @extend_schema(
        request=RerunSerializer,
        responses={202: RerunAnswerSerializer, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        body = RerunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        numbers = rerun_failed(job, body.validated_data.get("failure_class"), request.user)
        job.refresh_from_db()
        answer = {"rerun_of": numbers, "job": JobSerializer(job).data}
        return Response(answer, status=status.HTTP_202_ACCEPTED)


class JobRetryStage(APIView):
    """Continue a failed or cancelled pipeline from one of its stages (0-based, up to the
    one that stopped); the stages before it and the models they made are kept."""

    @extend_schema(
        request=RetryStageSerializer,
        responses={202: JobSerializer, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        body = RetryStageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        retry_stage(job, body.validated_data["stage"], request.user)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class TrialFiles(ExternalTrialView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "token": {"type": "string"},
                    "file": {"type": "string", "format": "binary"},
                },
                "required": ["token", "file"],
            }
        },
        responses={201: TrialFilesAnswerSerializer, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int, number: int) -> Response:
        """Attach a file your code made in the trial (a model, a plot): the best trial's
        files become the job's model version when it ends."""
        job, _ = self.checked(request, pk, number, TrialTokenSerializer)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": "required: the file, as multipart form data"})
        files = external.attach(job, number, upload.name, upload, upload.size)
        return Response({"files": files}, status=status.HTTP_201_CREATED)


class JobPause(APIView):
    """Start no new trial (HPO, NAS) or epoch (DARTS) or step (compression); the job
    pauses once the running ones end (a DARTS epoch is checkpointed)."""

    @extend_schema(request=None, responses={202: JobSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        pause_job(job, request.user)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobResume(APIView):
    """Queue a paused job again: any worker runs it on from its trials and checkpoint."""

    @extend_schema(request=None, responses={202: JobSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        resume_job(job, request.user)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobRegisterBest(APIView):
    """Register the best finished trial of a failed or cancelled job as a model version: a
    worker refits it on every search row, as a succeeded job's close does. The version
    appears in the registry (and the job's result gains its refit) once that has run."""

    @extend_schema(
        request=None,
        responses={202: JobSerializer, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        register_best_so_far(job, request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobExtend(APIView):
    """More trials and/or more time for a paused job (run once resumed) or a finished one
    (run at once): HPO jobs (seconds: on time_budget_s), and NAS jobs (seconds: on timeout_s)
    but DARTS (409: its schedule cannot take more epochs)."""

    @extend_schema(
        request=ExtendSerializer,
        responses={202: JobSerializer, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        body = ExtendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        extend_job(job, **body.validated_data, actor=request.user)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ScheduleList(generics.ListAPIView):
    serializer_class = ScheduleSerializer

    def get_queryset(self):
        return Schedule.objects.owned_by(self.request.user)

    @extend_schema(request=ScheduleCreateSerializer, responses={201: ScheduleSerializer})
    def post(self, request: Request) -> Response:
        """Run a job on a cron schedule: give its submission (`job`) or one of your jobs
        to repeat (`from_job`); it is validated now as a submission is."""
        from automl.jobs import schedules

        body = ScheduleCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if ("job" in data) == ("from_job" in data):
            raise ValidationError({"job": "give a job submission or from_job, one of them"})
        job = data.get("job")
        if "from_job" in data:
            source = Job.objects.owned_by(request.user).filter(id=data["from_job"]).first()
            if source is None:
                raise ValidationError({"from_job": "not the id of one of your jobs"})
            job = schedules.submission_of(source)
        schedule = schedules.create(request.user, name=data["name"], cron=data["cron"], job=job)
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetail(APIView):
    @extend_schema(responses=ScheduleSerializer)
    def get(self, request: Request, pk: int) -> Response:
        schedule = get_object_or_404(Schedule.objects.owned_by(request.user), id=pk)
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(request=ScheduleUpdateSerializer, responses=ScheduleSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        """Switch it off or on, or change its cron (the next run follows from now)."""
        from automl.jobs import schedules

        schedule = get_object_or_404(Schedule.objects.owned_by(request.user), id=pk)
        body = ScheduleUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule = schedules.update(schedule, **body.validated_data)
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        get_object_or_404(Schedule.objects.owned_by(request.user), id=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
