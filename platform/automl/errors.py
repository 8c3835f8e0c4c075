"""The one error type of the services, and how a page shows it.

Services raise a `ServiceError` subclass naming what is wrong (`detail`, a sentence) and
the fields at fault (`fields`, {"routes.0.weight": ["must be a positive number"]}); views
do not catch it. The API's exception handler (automl.api) turns it into the API's error
body with the subclass's status; pages show it through `on_form` (beside the form's
fields) or `as_message` (a message on the page the action redirects to).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class ServiceError(Exception):
    """A request a service refuses. Subclasses set the HTTP `status` and the API's `code`."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the error body (none by default)."""
        return {}

    @classmethod
    def from_fields(cls, fields: dict[str, list[str]]) -> ServiceError:
        """One error for several fields at fault, its detail naming each of them."""
        return cls("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()), fields)


class Invalid(ServiceError):
    """The input is wrong (400)."""


class NotFound(ServiceError):
    """Something the request names does not exist, or not among the caller's (404)."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """The input is fine, the state of the objects forbids it (409)."""

    status = 409
    code = "conflict"


class Busy(ServiceError):
    """The server process is already doing as much of this work as it does at once (503,
    with Retry-After): retry shortly."""

    status = 503
    code = "busy"
    retry_after_s = 5

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class OverQuota(ServiceError):
    """The caller has used up one of their limits (429)."""

    status = 429
    code = "quota"


class InUse(Conflict):
    """An object cannot go while others use it (409)."""

    code = "in_use"


def on_form(
    form: forms.Form,
    action: Callable[[], Any],
    field_of: Callable[[str], str | None] = lambda path: path.split(".")[0],
) -> Any:
    """What `action()` returns; if it raises a ServiceError, None, and each of the error's
    fields shown beside the form field `field_of(path)` names (on the form itself when that
    is none of its fields; the error's detail there when the form has none of them)."""
    try:
        return action()
    except ServiceError as exc:
        placed = {path: field_of(path) for path in exc.fields}
        if not any(field in form.fields for field in placed.values()):
            form.add_error(None, exc.detail)  # the detail names the fields the form lacks
            return None
        for path, problems in exc.fields.items():
            field = placed[path]
            form.add_error(field if field in form.fields else None, " ".join(problems))
        return None


def as_message(page: str) -> Callable:
    """View decorator for actions that redirect: a ServiceError the action raises becomes
    an error message on `page` (a URL name taking the view's keyword arguments)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except ServiceError as exc:
                messages.error(request, exc.detail)
                return redirect(page, *args, **kwargs)

        return wrapped

    return decorate
