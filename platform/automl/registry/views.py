import tempfile
from pathlib import Path

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl import heavy
from automl.datasets.uploads import MULTIPART_SLACK, PayloadTooLarge, content_length
from automl.registry import aliases, bundles, services, webhooks
from automl.registry.models import ModelVersion, Webhook, WebhookDelivery
from automl.registry.serializers import (
    AliasSerializer,
    ImportSerializer,
    ModelVersionSerializer,
    ModelVersionUpdateSerializer,
    StageSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from automl.registry.storage import get_storage

MAX_COMPARE = 10
EXPORT_FORMATS = ["onnx", "torchscript"]


def _choice(request: Request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise ValidationError({name: f"{value!r} is not one of {', '.join(choices)}"})
    return value


def _zip_response(write, filename: str) -> FileResponse:
    """Write a zip into a spooled temporary file and stream it back."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    write(spool)
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type="application/zip"
    )


class ModelList(generics.ListAPIView):
    serializer_class = ModelVersionSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        params = self.request.query_params
        versions = ModelVersion.objects.owned_by(self.request.user)
        if name := params.get("name"):
            versions = versions.filter(name=name)
        if stage := _choice(self.request, "stage", ModelVersion.Stage.values):
            versions = versions.filter(stage=stage)
        if task := _choice(self.request, "task", ["classification", "regression"]):
            versions = versions.filter(task=task)
        if framework := _choice(self.request, "framework", ["torch", "sklearn"]):
            versions = versions.filter(framework=framework)
        if job := params.get("job"):
            if not job.isdigit():
                raise ValidationError({"job": "must be a job id"})
            versions = versions.filter(job_id=int(job))
        if tag := params.get("tag"):
            # JSON containment is not on SQLite; tags are few, so filter them in Python.
            ids = [i for i, tags in versions.values_list("id", "tags") if tag in tags]
            versions = versions.filter(id__in=ids)
        if alias := params.get("alias"):
            versions = versions.filter(aliases__alias=alias)
        if search := params.get("search"):
            versions = versions.filter(
                Q(name__icontains=search)
                | Q(description__icontains=search)
                | Q(family__icontains=search)
            )
        return (
            versions.select_related("owner")
            .prefetch_related("aliases")
            .order_by("name", "-version")
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR),
            OpenApiParameter("job", OpenApiTypes.INT),
            OpenApiParameter("stage", OpenApiTypes.STR, enum=ModelVersion.Stage.values),
            OpenApiParameter("task", OpenApiTypes.STR, enum=["classification", "regression"]),
            OpenApiParameter("framework", OpenApiTypes.STR, enum=["torch", "sklearn"]),
            OpenApiParameter("tag", OpenApiTypes.STR),
            OpenApiParameter("alias", OpenApiTypes.STR, description="e.g. champion"),
            OpenApiParameter("search", OpenApiTypes.STR),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ModelDetail(APIView):
    @extend_schema(responses=ModelVersionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        return Response(ModelVersionSerializer(version).data)

    @extend_schema(request=ModelVersionUpdateSerializer, responses=ModelVersionSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        update = ModelVersionUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        for field, value in update.validated_data.items():
            setattr(version, field, value)
        version.save(update_fields=list(update.validated_data) or None)
        return Response(ModelVersionSerializer(version).data)


class ModelStage(APIView):
    @extend_schema(
        request=StageSerializer, responses={200: ModelVersionSerializer, 409: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        body = StageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.set_stage(version, body.validated_data["stage"], request.user)
        return Response(ModelVersionSerializer(version).data)


class ModelAliases(APIView):
    @extend_schema(
        request=AliasSerializer, responses={200: ModelVersionSerializer, 409: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, pk: int) -> Response:
        """Point an alias at this version (moving it from another version of the name)."""
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        body = AliasSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        aliases.set_alias(version, body.validated_data["alias"], request.user)
        return Response(ModelVersionSerializer(version).data)


class ModelAlias(APIView):
    @extend_schema(responses={204: None, 409: OpenApiTypes.OBJECT})
    def delete(self, request: Request, pk: int, alias: str) -> Response:
        """Remove the alias (refused while a deployment follows it)."""
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        aliases.remove_alias(version, alias, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelDownload(APIView):
    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        return _zip_response(
            lambda f: services.write_zip(version, f), f"{version.name}-v{version.version}.zip"
        )


class ModelImport(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportSerializer}, responses={201: ModelVersionSerializer}
    )
    def post(self, request: Request) -> Response:
        limit = settings.MODEL_MAX_UPLOAD_BYTES
        if content_length(request) > limit + MULTIPART_SLACK:  # before reading the body
            raise PayloadTooLarge(f"The upload is larger than MODEL_MAX_UPLOAD_BYTES ({limit}).")
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        files = {}
        for field in ("archive", "spec", *services.LOOSE_MODEL_FILES, "preprocessing"):
            if upload := data.get(field):
                limit = settings.MODEL_MAX_UPLOAD_BYTES
                if upload.size > limit:
                    raise PayloadTooLarge(
                        f"{field}: larger than MODEL_MAX_UPLOAD_BYTES ({limit} bytes)"
                    )
                files[field] = upload
        spec = None
        if "spec" in files:
            spec = services.read_spec(files.pop("spec"))
        parent = None
        if "parent" in data:
            parent = ModelVersion.objects.owned_by(request.user).filter(id=data["parent"]).first()
            if parent is None:
                raise ValidationError({"parent": "not the id of one of your model versions"})
        tags = [t.strip() for t in data.get("tags", "").split(",") if t.strip()]
        version = services.import_model(
            request.user,
            name=data["name"],
            spec=spec,
            tags=tags,
            parent=parent,
            description=data.get("description", ""),
            **files,
        )
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class ModelCompare(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "ids", OpenApiTypes.STR, required=True, description="Comma-separated version ids"
            )
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("ids", "")
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if len(parts) < 2 or len(parts) > MAX_COMPARE or not all(p.isdigit() for p in parts):
            raise ValidationError({"ids": f"2 to {MAX_COMPARE} comma-separated version ids"})
        ids = list(dict.fromkeys(int(p) for p in parts))
        found = {v.id: v for v in ModelVersion.objects.owned_by(request.user).filter(id__in=ids)}
        if missing := [i for i in ids if i not in found]:
            raise ValidationError({"ids": f"not your versions: {', '.join(map(str, missing))}"})
        versions = [found[i] for i in ids]
        metrics = sorted({m for v in versions for m in v.metrics})
        rows = [
            {
                "id": v.id,
                "name": v.name,
                "version": v.version,
                "stage": v.stage,
                "family": v.family,
                "framework": v.framework,
                "size": v.size,
                "latency_ms": v.latency_ms,
                "metrics": {m: v.metrics.get(m) for m in metrics},
                "lineage": services.lineage(v),
            }
            for v in versions
        ]
        return Response({"metrics": metrics, "versions": rows})


class ModelExport(APIView):
    """GET /api/v1/models/{id}/export/onnx/ or .../export/torchscript/ (torch models)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=EXPORT_FORMATS)
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            409: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request: Request, pk: int, fmt: str):
        from workers.models.export import to_onnx, to_torchscript

        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        if fmt not in EXPORT_FORMATS:
            raise NotFound(f"no export to {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
        export, suffix = (to_onnx, "onnx") if fmt == "onnx" else (to_torchscript, "pt")
        with heavy.one_at_a_time(f"the {fmt} export"), tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"model.{suffix}"
            with services.export_refusals():
                export(get_storage().local_dir(version.storage_key), target)
            content = target.read_bytes()
        response = FileResponse(
            iter([content]),
            as_attachment=True,
            content_type="application/octet-stream",
            filename=f"{version.name}-v{version.version}.{suffix}",
        )
        response["Content-Length"] = str(len(content))
        return response


class ModelBundle(APIView):
    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        with heavy.one_at_a_time("the bundle"), tempfile.TemporaryDirectory() as tmp:
            folder = bundles.write_bundle(version, Path(tmp) / "bundle")
            return _zip_response(
                lambda f: bundles.zip_folder(folder, f),
                f"{bundles.service_name(version)}-bundle.zip",
            )


class ModelTriton(APIView):
    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY, 409: OpenApiTypes.OBJECT}
    )
    def get(self, request: Request, pk: int):
        version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
        with heavy.one_at_a_time("the Triton bundle"), tempfile.TemporaryDirectory() as tmp:
            with services.export_refusals():
                folder = bundles.write_triton(version, Path(tmp) / "triton")
            return _zip_response(
                lambda f: bundles.zip_folder(folder, f),
                f"{bundles.service_name(version)}-triton.zip",
            )


class WebhookList(generics.ListAPIView):
    serializer_class = WebhookSerializer

    def get_queryset(self) -> QuerySet[Webhook]:
        return Webhook.objects.owned_by(self.request.user)

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request: Request) -> Response:
        """Subscribe a URL to events; the answer holds the signing secret, shown only now."""
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hook = webhooks.subscribe(request.user, **body.validated_data)
        return Response(WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetail(APIView):
    @extend_schema(responses=WebhookSerializer)
    def get(self, request: Request, pk: int) -> Response:
        hook = get_object_or_404(Webhook.objects.owned_by(request.user), id=pk)
        return Response(WebhookSerializer(hook).data)

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        """Switch it off (deliveries still pending are not sent) or on again."""
        hook = get_object_or_404(Webhook.objects.owned_by(request.user), id=pk)
        body = WebhookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hook.active = body.validated_data["active"]
        hook.save(update_fields=["active"])
        return Response(WebhookSerializer(hook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        get_object_or_404(Webhook.objects.owned_by(request.user), id=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveries(generics.ListAPIView):
    """The delivery log of one of your webhooks, newest first."""

    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        hook = get_object_or_404(Webhook.objects.owned_by(self.request.user), id=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(webhook=hook)
