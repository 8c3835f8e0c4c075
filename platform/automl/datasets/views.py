"""The data set API: list and upload, detail with profile, delete."""

import shutil

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automl.datasets import services
from automl.datasets.models import Dataset
from automl.datasets.serializers import (
    DatasetDetailSerializer,
    DatasetRowsQuerySerializer,
    DatasetRowsSerializer,
    DatasetSerializer,
    DatasetUploadSerializer,
)
from automl.datasets.uploads import (
    MULTIPART_SLACK,
    DatasetUploadHandler,
    DatasetUploadParser,
    content_length,
    too_large,
)


def receive_upload(request, form_data, owner) -> Dataset:
    """Stream the request's file to disk and store the data set; on any error nothing stays.

    `form_data(request)` reads the parsed form (it triggers the streaming) and returns
    (file, fields). Raises PayloadTooLarge, or Invalid naming the field at fault.
    """
    max_bytes = settings.DATASET_MAX_UPLOAD_BYTES
    if content_length(request) > max_bytes + MULTIPART_SLACK:
        raise too_large(max_bytes)  # before a byte of the body is read
    directory = services.upload_directory()
    handler = DatasetUploadHandler(request, directory, max_bytes)
    request.upload_handlers = [handler]
    try:
        upload, fields = form_data(request)
        return services.create_upload(
            owner,
            path=upload.path,
            original_name=upload.name,
            size=upload.size,
            sha256=upload.sha256,
            name=fields.get("name", ""),
            description=fields.get("description", ""),
            target=fields.get("target", ""),
            task=fields.get("task", ""),
        )
    except BaseException:
        handler.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise


class DatasetList(generics.ListAPIView):
    """Data sets the caller can train on: their own and the built-in ones."""

    serializer_class = DatasetSerializer
    parser_classes = [DatasetUploadParser]

    def get_queryset(self):
        return Dataset.visible_to(self.request.user).select_related("owner")

    @extend_schema(
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={
            201: DatasetDetailSerializer,
            400: OpenApiTypes.OBJECT,
            413: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request) -> Response:
        """Upload a table (.csv, .parquet, .xlsx, .jsonl) or an .npz (multipart, field
        `file`); small files are profiled now, large ones by a worker (profile_status
        pending -> ready)."""
        if not request.content_type.startswith("multipart/form-data"):
            raise exceptions.UnsupportedMediaType(request.content_type)

        def form_data(django_request):
            form = DatasetUploadSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            return form.validated_data["file"], form.validated_data

        dataset = receive_upload(request._request, form_data, request.user)
        return Response(DatasetDetailSerializer(dataset).data, status=status.HTTP_201_CREATED)


def visible_or_404(request: Request, pk: int) -> Dataset:
    return get_object_or_404(Dataset.visible_to(request.user).select_related("owner"), id=pk)


class DatasetDetail(APIView):
    def get_object(self, pk: int) -> Dataset:
        return visible_or_404(self.request, pk)

    @extend_schema(responses=DatasetDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(DatasetDetailSerializer(self.get_object(pk)).data)

    @extend_schema(responses={204: None, 405: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    def delete(self, request: Request, pk: int) -> Response:
        """Delete one of your uploads and its file; 409 while a job or model uses it."""
        dataset = self.get_object(pk)
        if dataset.is_builtin:
            raise exceptions.MethodNotAllowed("DELETE", "Built-in data sets are read-only.")
        services.delete_dataset(dataset)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetRows(APIView):
    @extend_schema(parameters=[DatasetRowsQuerySerializer], responses=DatasetRowsSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """The first `limit` rows as the data set stores them (an upload's cells as the
        file holds them, missing ones null; a built-in's numbers with its target last); an
        image data set has none."""
        dataset = visible_or_404(request, pk)
        query = DatasetRowsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        columns, rows = services.first_rows(dataset, query.validated_data["limit"])
        return Response(DatasetRowsSerializer({"columns": columns, "rows": rows}).data)
