"""A job's trials as CSV, safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return) would be run as a formula
by Excel, LibreOffice or Sheets; such text cells get a leading ' (OWASP's advice), so
search-space choices or parameter names chosen by anyone are shown, never evaluated.
Numbers are written as numbers: a negative score is not a formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework.request import Request
from rest_framework.views import APIView

from automl.jobs import kinds
from automl.jobs.models import Job, Trial

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell's value, with text that a spreadsheet would run as a formula defused."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text = value if isinstance(value, str) else json.dumps(value)
        return "'" + text if text.startswith(FORMULA_START) else text
    return value


def metric_names(job: Job, width: int) -> list[str]:
    names = [str(m) for m in kinds.get(job.kind).metrics(job)]
    return names if len(names) == width else [f"value_{i}" for i in range(width)]


def trial_rows(job: Job) -> Iterator[list[object]]:
    """The header, then one row per trial: number, state, values, params, times, error."""
    trials = Trial.objects.filter(job=job).order_by("number")
    params: dict[str, None] = {}
    width = 0
    for row in trials.values("params", "values").iterator():
        params.update(dict.fromkeys(row["params"] or {}))
        width = max(width, len(row["values"] or []))
    names = list(params)
    header = [
        "number",
        "state",
        *metric_names(job, width),
        *(f"param:{n}" for n in names),
        "started_at",
        "finished_at",
        "duration_s",
        "error",
    ]
    yield [neutralise(h) for h in header]
    for trial in trials.iterator():
        values = trial.values or []
        duration = (
            (trial.finished_at - trial.started_at).total_seconds()
            if trial.started_at and trial.finished_at
            else None
        )
        cells = [
            trial.number,
            trial.state,
            *(values[i] if i < len(values) else None for i in range(width)),
            *((trial.params or {}).get(n) for n in names),
            trial.started_at.isoformat() if trial.started_at else None,
            trial.finished_at.isoformat() if trial.finished_at else None,
            duration,
            trial.error,
        ]
        yield [neutralise(c) for c in cells]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in rows)


class CSVRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv (the view streams the body itself)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return json.dumps(data).encode()


class TrialsCSV(APIView):
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    def handle_exception(self, exc: Exception):
        # Errors are the API's JSON body, whatever the client asked for.
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return super().handle_exception(exc)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One row per trial; text cells that a spreadsheet "
                "would run as a formula start with '.",
            ),
            404: OpenApiTypes.OBJECT,
        }
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        """Every trial of the job as CSV (number, state, metric values, params, times)."""
        job = get_object_or_404(Job.objects.owned_by(request.user), id=pk)
        response = StreamingHttpResponse(
            csv_lines(trial_rows(job)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="job-{job.id}-trials.csv"'
        return response
