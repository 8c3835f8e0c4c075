"""What every API view shares: one error shape (services' refusals included), pagination."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from automl.errors import ServiceError


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"config.search_space.x.low": ["..."]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else f"{prefix}.{key}".strip(".")
            for path, messages in flatten_errors(value, name).items():
                flat.setdefault(path, []).extend(messages)
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix: [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            for path, messages in flatten_errors(item, f"{prefix}.{index}".strip(".")).items():
                flat.setdefault(path, []).extend(messages)
        return flat
    return {prefix: [str(detail)]}


def error_body(code: str, detail: str, fields: dict[str, list[str]] | None = None) -> dict:
    """The one error shape of the API: a code, a sentence, and the fields at fault."""
    body: dict[str, Any] = {"error": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, then the one error shape: a service's refusal, a validation error
    with its fields flattened, any other API error with its code."""
    if isinstance(exc, ServiceError):
        set_rollback()  # as DRF does for its own errors, should a request run in a transaction
        body = error_body(exc.code, exc.detail, exc.fields)
        return Response(body, status=exc.status, headers=exc.headers)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django turns it into a 500, which is a bug to fix
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        detail = "; ".join(
            f"{path}: {' '.join(messages)}" if path else " ".join(messages)
            for path, messages in fields.items()
        )
        fields.pop("", None)
        response.data = error_body("invalid", detail, fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(code, str(exc.detail))
    elif isinstance(exc, Http404):
        response.data = error_body("not_found", "Not found.")
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        body = error_body("not_found", f"No such endpoint: {request.path}")
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = error_body("server_error", "Internal error; it has been logged.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "a code: invalid, not_found, ..."},
        "detail": {"type": "string", "description": "what is wrong, in a sentence"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["error", "detail"],
}
ERRORS = {
    "400": "The input is invalid; `fields` names each field at fault.",
    "401": "No valid token or session.",
    "403": "Signed in, but not allowed (e.g. a staff-only endpoint).",
    "404": "No such object among yours.",
    "413": "The body is larger than the limit it names.",
    "415": "The body's media type is not one this operation reads.",
    "429": "Too many requests (e.g. failed sign-ins); Retry-After says how long to wait.",
}


def document_errors(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular hook: add the error answers every API view can give to each
    operation (the one error shape), beside the ones a view documents itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            # 404 everywhere: ids also come in query strings and bodies.
            codes = {"400", "401", "403", "404", "429"}
            if method in ("post", "put", "patch"):
                codes |= {"413", "415"}
            responses = operation.setdefault("responses", {})
            for code in sorted(codes - set(responses)):
                responses[code] = {
                    "description": ERRORS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
    return result
