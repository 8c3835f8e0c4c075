"""The job pages: a list with live status, new-job forms for every kind, and a detail page
with progress, a sortable trials table, charts and a cancel button.

Submissions go through JobSubmitSerializer, as over REST, so a form shows the API's errors.
Another user's job is a 404, as in the API.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from automl import audit
from automl.api import flatten_errors
from automl.charts import figure_html, plotly_js_tag
from automl.errors import Invalid, ServiceError, on_form
from automl.jobs import dispatch, kinds, lifecycle
from automl.jobs.forms import form_for, initial_for
from automl.jobs.models import Job, Trial
from automl.jobs.serializers import (
    ExtendSerializer,
    JobSubmitSerializer,
    TrialCurationSerializer,
    failure_counts,
)
from automl.jobs.services import (
    curate_trial,
    extend_job,
    failed_not_rerun,
    pause_job,
    rerun_failed,
    resume_job,
    submit_job,
)
from automl.monitoring.fleet import waiting_reason
from workers.failures import LABELS as FAILURE_LABELS

JOBS_PER_PAGE = 50
TRIALS_PER_PAGE = 200  # rows of the trials table; the API serves every trial
CHART_TRIALS = 5000  # the most recent trials drawn; the table and API page through all
MAX_PARAM_COLUMNS = 12
TRIAL_FIELDS = (
    "number",
    "state",
    "params",
    "values",
    "intermediate_values",
    "started_at",
    "finished_at",
    "failure_class",
    "retry_of",
    "excluded",
    "tags",
)


def owned_or_404(request: HttpRequest, pk: int) -> Job:
    return get_object_or_404(Job.objects.owned_by(request.user).select_related("dataset"), id=pk)


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.owned_by(request.user).select_related("dataset")
    kind, status = request.GET.get("kind", ""), request.GET.get("status", "")
    if kind in Job.Kind.values:
        jobs = jobs.filter(kind=kind)
    if status in Job.Status.values:
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "jobs": page.object_list,
        "kind": kind,
        "status": status,
        "kinds": kinds.choices(),
        "statuses": Job.Status.values,
        "live": any(not job.is_finished for job in page.object_list),
    }
    # The list polls this fragment while any job on it is still queued or running.
    template = "jobs/_rows.html" if request.GET.get("fragment") == "rows" else "jobs/list.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def job_new(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in Job.Kind.values:
        raise Http404("No such job kind.")
    if request.method == "GET":
        initial: dict = {}
        if source_id := request.GET.get("from"):
            source = owned_or_404(request, _int_or_404(source_id))
            initial = initial_for(source, continue_from=request.GET.get("continue") == "1")
        elif dataset_id := request.GET.get("dataset"):
            initial = {"dataset": dataset_id}
        elif model_id := request.GET.get("model"):  # "Compress" on a model's page
            initial = {"model_version": model_id}
        form = form_for(kind, user=request.user, initial=initial)
        return _new(request, kind, form)
    form = form_for(kind, request.POST, user=request.user)
    form.is_valid()
    # The API checks what the form's own checks let through, so every mistake is shown at
    # once: a field the form found wrong stands at its default for the API.
    submission = JobSubmitSerializer(data=form.submission(), context={"request": request})
    if not submission.is_valid():
        form.add_api_errors(flatten_errors(submission.errors))
    if form.errors:
        return _new(request, kind, form, status=400)
    job = on_form(form, lambda: submit_job(request.user, **submission.validated_data))
    if job is None:  # over the user's quota: said beside the form
        return _new(request, kind, form, status=429)
    messages.success(request, f"Job {job.id} queued: {job.name}.")
    return redirect("job-page", pk=job.id)


def _int_or_404(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Http404("No such job.") from None


def _new(request: HttpRequest, kind: str, form, status: int = 200) -> HttpResponse:
    return render(
        request,
        "jobs/new.html",
        {
            "form": form,
            "kind": kind,
            "kind_label": kinds.get(kind).label,
            "kinds": kinds.choices(),
        },
        status=status,
    )


@login_required
@require_GET
def job_page(request: HttpRequest, pk: int) -> HttpResponse:
    job = owned_or_404(request, pk)
    trials = Trial.objects.filter(job=job)
    table = Paginator(trials.order_by("number").values(*TRIAL_FIELDS), TRIALS_PER_PAGE)
    rows = table.get_page(request.GET.get("page"))
    # Excluded trials stay in the table, not in the charts.
    charted = trials.filter(excluded=False).order_by("-number")
    recent = list(charted.values(*TRIAL_FIELDS)[:CHART_TRIALS])[::-1]
    kind = kinds.get(job.kind)
    metrics = kind.metrics(job)
    param_names = _param_names(rows.object_list) if kind.param_columns else []
    context = {
        "job": job,
        "rows": _table_rows(rows.object_list, param_names, len(metrics)),
        "table": rows,
        "param_names": param_names,
        "metrics": metrics,
        "counts": _counts(trials),
        "failures": _failure_rows(job),
        "n_charted": len(recent),
        "figures": [figure_html(f) for f in kind.figures(job, recent, metrics) if f is not None],
        "plotly_js": plotly_js_tag(),
        "config_json": json.dumps(job.config, indent=2),
        "result_json": json.dumps(job.result, indent=2) if job.result else "",
        "can_continue": kind.continuable and job.is_finished,
        "pausable": kind.pausable,
        "can_rerun": kind.reruns_failed and job.is_finished and failed_not_rerun(job).exists(),
        "compression_rows": kind.report_rows(job),
        "waiting_reason": _waiting(job),
        "audit_rows": audit.rows(job),
    }
    return render(request, "jobs/detail.html", context)


@login_required
@require_GET
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the detail page polls: status, progress and trial counts."""
    job = owned_or_404(request, pk)
    return JsonResponse(
        {
            "id": job.id,
            "status": job.status,
            "progress": job.progress,
            "finished": job.is_finished,
            "cancel_requested": job.cancel_requested,
            "trials": _counts(Trial.objects.filter(job=job)),
            "failures": failure_counts(job),
        }
    )


@login_required
@require_GET
def trial_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One trial: its params, values, how it failed (and its retries), and its log."""
    job = owned_or_404(request, pk)
    trial = get_object_or_404(Trial, job=job, number=number)
    context = {
        "job": job,
        "trial": trial,
        "failure_label": FAILURE_LABELS.get(trial.failure_class, ""),
        "retries": list(
            Trial.objects.filter(job=job, retry_of=trial.number).values("number", "state")
        ),
        # Postgres's JSON gives 1e35 back as an int: every number is shown as a float.
        "changes": [
            (name, _short(_as_float(a)), _short(_as_float(b)))
            for name, (a, b) in trial.retry_change.items()
        ],
        "params_json": json.dumps(trial.params, indent=2),
        "audit_rows": audit.rows(trial),
        "values": list(zip(kinds.get(job.kind).metrics(job), trial.values or [], strict=False)),
    }
    return render(request, "jobs/trial.html", context)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = owned_or_404(request, pk)
    if lifecycle.request_cancel(job, request.user):
        messages.success(request, f"Cancelling job {job.id}: it stops after its current step.")
    else:
        job.refresh_from_db()
        messages.error(request, f"Job {job.id} has already finished ({job.status}).")
    return redirect("job-page", pk=job.id)


@login_required
@require_POST
def job_control(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The page's pause, resume and extend buttons."""
    job = owned_or_404(request, pk)
    try:
        if action == "pause":
            pause_job(job, request.user)
            messages.success(request, f"Pausing job {job.id}: no new trial starts.")
        elif action == "resume":
            resume_job(job, request.user)
            messages.success(request, f"Job {job.id} resumed.")
        elif action == "extend":
            more = ExtendSerializer(data={"n_trials": request.POST.get("n_trials")})
            if not more.is_valid():
                raise Invalid("n_trials: a whole number from 1 to 10000")
            extend_job(job, more.validated_data["n_trials"], request.user)
            messages.success(
                request, f"Job {job.id}: {more.validated_data['n_trials']} more trials."
            )
        else:
            raise Http404("No such action.")
    except ServiceError as exc:
        messages.error(request, exc.detail)
    return redirect("job-page", pk=job.id)


@login_required
@require_POST
def job_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    job = owned_or_404(request, pk)
    failure_class = request.POST.get("failure_class") or None
    try:
        numbers = rerun_failed(job, failure_class, request.user)
    except ServiceError as exc:
        messages.error(request, exc.detail)
    else:
        listed = ", ".join(str(n) for n in numbers)
        messages.success(request, f"Re-running failed trials {listed} of job {job.id}.")
    return redirect("job-page", pk=job.id)


# --- the detail page's parts


def _waiting(job: Job) -> str:
    """Why a queued job waits: a limit of its owner's or its turn (the scheduler), and
    whether any worker takes its queue at all (the fleet)."""
    reasons = [dispatch.waiting_reason(job), waiting_reason(job)]
    return " ".join(r if r.endswith(".") else f"{r}." for r in reasons if r)


def _counts(trials) -> dict[str, int]:
    counts = dict.fromkeys(Trial.State.values, 0)
    for row in trials.order_by().values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


def _failure_rows(job: Job) -> list[dict]:
    """Failed trials per class, most first, with the class's label."""
    found = failure_counts(job)
    return [
        {"failure_class": name, "label": FAILURE_LABELS.get(name, name), "n": n}
        for name, n in sorted(found.items(), key=lambda item: -item[1])
    ]


def _param_names(rows) -> list[str]:
    names = dict.fromkeys(name for row in rows for name in (row["params"] or {}))
    return list(names)[:MAX_PARAM_COLUMNS]


def _table_rows(rows, param_names: list[str], n_metrics: int) -> list[dict]:
    out = []
    for row in rows:
        values = row["values"] or []
        params = row["params"] or {}
        seconds = None
        if row["started_at"] and row["finished_at"]:
            seconds = (row["finished_at"] - row["started_at"]).total_seconds()
        out.append(
            {
                "number": row["number"],
                "state": row["state"],
                "values": [values[i] if i < len(values) else None for i in range(n_metrics)],
                "params": [_short(params.get(name)) for name in param_names],
                "summary": "" if param_names else json.dumps(params)[:160],
                "steps": len(row["intermediate_values"] or {}),
                "seconds": seconds,
                "failure_class": row["failure_class"],
                "failure_label": FAILURE_LABELS.get(row["failure_class"], ""),
                "retry_of": row["retry_of"],
                "excluded": row["excluded"],
                "tags": row["tags"] or [],
            }
        )
    return out


def _as_float(value: object) -> object:
    return float(value) if type(value) in (int, float) else value


def _short(value: object) -> object:
    """Floats to six significant digits: a table cell, not the stored value."""
    return f"{value:.6g}" if isinstance(value, float) else value


@login_required
@require_POST
def trial_curate(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """The trial page's form: notes, tags (comma-separated), exclusion with a reason."""
    job = owned_or_404(request, pk)
    trial = get_object_or_404(Trial, job=job, number=number)
    tags = [t.strip() for t in request.POST.get("tags", "").split(",") if t.strip()]
    body = TrialCurationSerializer(
        data={
            "notes": request.POST.get("notes", ""),
            "tags": tags,
            "excluded": request.POST.get("excluded") == "on",
            "exclude_reason": request.POST.get("exclude_reason", ""),
        }
    )
    if not body.is_valid():
        errors = flatten_errors(body.errors)
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
    else:
        try:
            curate_trial(trial, request.user, **body.validated_data)
        except ServiceError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Trial {number} saved.")
    return redirect("trial-page", pk=job.id, number=number)


page_urls = [
    path("", job_list, name="job-pages"),
    path("new/<str:kind>/", job_new, name="job-new-page"),
    path("<int:pk>/", job_page, name="job-page"),
    path("<int:pk>/status/", job_status, name="job-status-page"),
    path("<int:pk>/cancel/", job_cancel, name="job-cancel-page"),
    path("<int:pk>/trials/<int:number>/", trial_page, name="trial-page"),
    path("<int:pk>/rerun/", job_rerun, name="job-rerun-page"),
    path("<int:pk>/<str:action>/", job_control, name="job-control-page"),
    path("<int:pk>/trials/<int:number>/curate/", trial_curate, name="trial-curate-page"),
]
