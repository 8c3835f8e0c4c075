"""Streaming multipart uploads straight to the data set's folder, hashed on the way.

The request body is never held in memory: DatasetUploadHandler writes each chunk to
ARTIFACT_ROOT/datasets/<uuid>/upload.part as it arrives, updating a sha256, and stops
with a 413 as soon as the file passes the size limit (or before reading anything when
Content-Length already says so). The caller removes the folder on any error.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    StopFutureHandlers,
    TemporaryFileUploadHandler,
)
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers

PART_NAME = "upload.part"
FILE_FIELD = "file"
# Room for the form's other fields and the multipart boundaries around the file.
MULTIPART_SLACK = 64 * 1024
_UNSAFE_NAME = re.compile(r"(^|[/\\])\.\.([/\\]|$)|[/\\\x00]")


class PayloadTooLarge(exceptions.APIException, RequestDataTooBig):
    """A 413 in the API; also Django's RequestDataTooBig, so that a body refused while
    middleware reads it (CSRF reads a page's form first) is Django's 400, not a 500."""

    status_code = 413
    default_code = "too_large"
    default_detail = "The upload is too large."


class BadUpload(exceptions.ValidationError):
    """A multipart body we refuse: unsafe file name, a second file, a broken body."""

    def __init__(self, message: str, field: str = FILE_FIELD) -> None:
        super().__init__({field: [message]})


def too_large(max_bytes: int) -> PayloadTooLarge:
    size = f" ({max_bytes / 2**20:.0f} MiB)" if max_bytes >= 2**20 else ""
    return PayloadTooLarge(f"The file is larger than the limit of {max_bytes} bytes{size}.")


def content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def check_file_name(name: str | None) -> None:
    """Refuse a client file name that tries to name a path (we never use it as one)."""
    if name is not None and _UNSAFE_NAME.search(name):
        raise BadUpload(f"the file name {name!r} contains a path; send a plain file name")


class StreamedFile(UploadedFile):
    """The uploaded file, already on disk at `path`, with its size and sha256."""

    def __init__(self, path: Path, name: str, content_type: str, size: int, sha256: str):
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.path = path
        self.sha256 = sha256

    def open(self, mode: str = "rb"):  # pragma: no cover - read through self.path
        return self.path.open(mode)

    def close(self) -> None:
        pass  # the handler closed what it wrote; the parser closes files on errors too


class DatasetUploadHandler(FileUploadHandler):
    """Writes the one file of the form into `directory`, hashing and counting as it goes."""

    def __init__(self, request, directory: Path, max_bytes: int) -> None:
        super().__init__(request)
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.out = None
        self.size = 0
        self.digest = hashlib.sha256()

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.max_bytes + MULTIPART_SLACK:
            raise too_large(self.max_bytes)
        return None

    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != FILE_FIELD:
            raise BadUpload(f"unexpected file field {field_name!r}; send the file as 'file'")
        if self.out is not None:
            raise BadUpload("send exactly one file")
        self.directory.mkdir(parents=True, exist_ok=False)
        self.out = (self.directory / PART_NAME).open("wb")
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > self.max_bytes:
            self.close()
            raise too_large(self.max_bytes)
        self.digest.update(raw_data)
        self.out.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StreamedFile:
        self.close()
        return StreamedFile(
            self.directory / PART_NAME,
            self.file_name,
            self.content_type,
            self.size,
            self.digest.hexdigest(),
        )

    def upload_interrupted(self) -> None:
        self.close()

    def close(self) -> None:
        if self.out is not None and not self.out.closed:
            self.out.close()


def upload_limit() -> int:
    """The most bytes of any upload: the larger of the data set and model limits."""
    return max(settings.DATASET_MAX_UPLOAD_BYTES, settings.MODEL_MAX_UPLOAD_BYTES)


class BodyLimitHandler(TemporaryFileUploadHandler):
    """Django's default for every multipart body (FILE_UPLOAD_HANDLERS): each file goes to
    a temporary file, never memory, and the body is refused past upload_limit(), from its
    Content-Length before reading and while reading (a chunked body has none). Views then
    check their own, smaller limit against the sizes on disk."""

    received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > upload_limit() + MULTIPART_SLACK:
            raise too_large(upload_limit())
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > upload_limit():
            raise too_large(upload_limit())
        return super().receive_data_chunk(raw_data, start)


class _StrictMultiPartParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        check_file_name(file_name)
        return super().sanitize_file_name(file_name)


class DatasetUploadParser(parsers.BaseParser):
    """DRF's multipart parser, with our handler and a refusal of path-like file names."""

    media_type = "multipart/form-data"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding") or "utf-8"
        try:
            parser = _StrictMultiPartParser(meta, stream, request.upload_handlers, encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise exceptions.ParseError(f"Multipart form parse error - {exc}") from None
        return parsers.DataAndFiles(data, files)
