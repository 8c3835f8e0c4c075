"""The job pages: a list with live status, new-job forms for every kind, and a detail page
with progress, a sortable trials table, charts and a cancel button.

Submissions go through JobSubmitSerializer, as over REST, so a form shows the API's errors.
Another user's job is a 404, as in the API.
"""

from __future__ import annotations

import json

import plotly.io
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from automl import audit
from automl.api import error_body, flatten_errors
from automl.charts import figure_html, plotly_js_tag, themed
from automl.errors import Invalid, ServiceError, on_form
from automl.jobs import charts, dispatch, explorer, kinds, lifecycle, search_charts
from automl.jobs.forms import form_for, initial_for
from automl.jobs.leaderboard import leaderboard
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
    register_best_so_far,
    rerun_failed,
    resume_job,
    retry_stage,
    submit_job,
)
from automl.monitoring.fleet import waiting_reason
from workers.failures import ADVICE as FAILURE_ADVICE
from workers.failures import LABELS as FAILURE_LABELS

JOBS_PER_PAGE = 50
TRIALS_PER_PAGE = 100  # rows of the trials table; its pages reach every trial
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
        "jobs": _with_outcome(page.object_list),
        "kind": kind,
        "status": status,
        "kinds": kinds.choices(),
        "statuses": Job.Status.values,
        "live": any(not job.is_finished for job in page.object_list),
    }
    # The list polls this fragment while any job on it is still queued or running.
    template = "jobs/_rows.html" if request.GET.get("fragment") == "rows" else "jobs/list.html"
    return render(request, template, context)


def _with_outcome(jobs) -> list[Job]:
    """The jobs, each with the metric its best value is in (`metric`) and the first model
    version it registered (`registered`, or None): one query for the versions of them all."""
    from automl.registry.models import ModelVersion

    jobs = list(jobs)
    registered: dict[int, object] = {}
    for version in ModelVersion.objects.filter(job__in=jobs).order_by("-id"):
        registered[version.job_id] = version
    for job in jobs:
        job.metric = kinds.get(job.kind).metrics(job)[0]
        job.registered = registered.get(job.id)
    return jobs


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
    """The job: its summary, charts and trials table. The page's script draws the charts
    from job_charts once the page is shown (so a big job's page comes at once), polls
    job_status and redraws each part in place (?fragment=summary, ?fragment=trials,
    job_charts), so the user's sort, scroll and zoom survive while the job runs."""
    job = owned_or_404(request, pk)
    if "filter_param" in request.GET:  # the filter form's "add a parameter range" row
        return redirect(f"{request.path}{_with_range(request.GET)}")
    table = _trials_table(request, job)
    fragment = request.GET.get("fragment")
    if fragment == "trials":
        return render(request, "jobs/_trials.html", table, status=table["status"])
    summary = _summary(job)
    if fragment == "summary":
        return render(request, "jobs/_summary.html", summary)
    kind = kinds.get(job.kind)
    context = {
        **summary,
        **table,
        "plotly_js": plotly_js_tag(),
        "search_charts": bool(explorer.columns_for(job).params),
        "config_json": json.dumps(job.config, indent=2),
        "result_json": json.dumps(job.result, indent=2) if job.result else "",
        "compression_rows": kind.report_rows(job),
        "stage_rows": kind.stage_rows(job),
        "can_retry_stage": kind.orchestrates
        and job.status in (Job.Status.FAILED, Job.Status.CANCELLED),
        "leaderboard": leaderboard(job) if job.is_finished else None,
        "audit_rows": audit.rows(job),
    }
    return render(request, "jobs/detail.html", context, status=table["status"])


def _summary(job: Job) -> dict:
    """The page's top: status, progress, counts, the time taken and left, the actions."""
    kind = kinds.get(job.kind)
    counts = _counts(Trial.objects.filter(job=job))
    return {
        "job": job,
        "metrics": kind.metrics(job),
        "counts": counts,
        "failures": _failure_rows(job),
        "timing": _timing(job),
        "budget": _budget(job),
        "can_continue": kind.continuable and job.is_finished,
        "pausable": kind.pausable,
        "extendable": kind.extendable and not kind.extend_refused(job),
        "trials_noun": kind.trials_noun,
        "can_rerun": kind.reruns_failed and job.is_finished and failed_not_rerun(job).exists(),
        "waiting_reason": _waiting(job),
        "failure_advice": FAILURE_ADVICE.get(job.failure_class, ""),
        "versions": _registered(job),
        "can_register_best": kind.registers_best_so_far
        and job.status in (Job.Status.FAILED, Job.Status.CANCELLED)
        and counts["complete"] > 0,
    }


def _registered(job: Job) -> list[dict]:
    """The model versions the job registered, with what each allows (Deploy, Compress)."""
    from automl.registry.models import ModelVersion

    versions = ModelVersion.objects.filter(job=job).order_by("id")
    return [
        {
            "version": v,
            "deploy": "deploy" not in v.refusals(),
            "compress": "compress" not in v.refusals(),
        }
        for v in versions
    ]


def _trials_table(request: HttpRequest, job: Job) -> dict:
    """One page of the trials table as the query string asks (automl.jobs.explorer): a
    wrong query shows every trial and says what was wrong (400)."""
    columns = explorer.columns_for(job)
    problem = None
    try:
        query = explorer.TrialQuery.parse(request.GET, columns)
    except Invalid as exc:
        query, problem = explorer.TrialQuery(columns=columns), exc.detail
    trials = query.apply(Trial.objects.filter(job=job)).values(*TRIAL_FIELDS)
    page = Paginator(trials, TRIALS_PER_PAGE).get_page(request.GET.get("page"))
    groups = columns.groups(query.family)
    seen = _unlisted(page.object_list, columns) if kinds.get(job.kind).param_columns else []
    if seen:
        groups.append(("other", [explorer.Param(name, "other", "") for name in seen]))
    params = [p for _, group in groups for p in group]
    metrics = kinds.get(job.kind).metrics(job)
    base = query.url()
    return {
        "job": job,
        "query": query,
        "page_prefix": base + ("&" if len(base) > 1 else ""),
        "headings": _headings(query, metrics, params),
        "problem": problem,
        "status": 400 if problem else 200,
        "table": page,
        "rows": _table_rows(page.object_list, params, len(metrics)),
        "metrics": metrics,
        "groups": [(name, len(group)) for name, group in groups],
        "params": params,
        "grouped": any(name for name, _ in groups),
        "has_params": bool(params) or kinds.get(job.kind).param_columns,
        "states": Trial.State.values,
        "families": columns.families,
        "numeric_params": [p for p in columns.params if p.type in explorer.NUMERIC],
        "choice_params": [p for p in columns.params if p.choices and p.type == "categorical"],
        "active_filters": _active_filters(query),
    }


def _headings(query: explorer.TrialQuery, metrics: list[str], params) -> list[dict]:
    """The table's column headings: label, and for a sortable one the link that sorts by
    it and its aria-sort (the table is sorted by the database, across every page)."""

    def heading(label: str, key: str | None = None, title: str = "") -> dict:
        if key is None:
            return {"label": label, "title": title}
        current = query.ordering.removeprefix("-") == key
        order = "descending" if query.ordering.startswith("-") else "ascending"
        return {
            "label": label,
            "title": title or f"Sort by {label}",
            "url": query.sorted_by(key),
            "sort": order if current else "",
        }

    values = [heading(metrics[0], "value", f"Sort by {metrics[0]} (the first objective)")]
    values += [heading(m) for m in metrics[1:]]
    shown = [heading(p.label, f"{explorer.PARAM_ORDER}{p.name}", p.name) for p in params]
    return [
        heading("#", "number", "Sort by trial number"),
        heading("State", "state"),
        *values,
        *(shown or [heading("Params")]),
        heading("Steps"),
        heading("Duration", "duration"),
        heading("Failure, tags"),
    ]


def _unlisted(rows, columns: explorer.Columns) -> list[str]:
    """Parameters on this page that the search space does not name (a kind without one, or
    the data set's feature engineering "fe.*"), so no value is ever hidden."""
    known = {p.name for p in columns.params}
    return list(
        dict.fromkeys(name for row in rows for name in (row["params"] or {}) if name not in known)
    )


def _active_filters(query: explorer.TrialQuery) -> list[tuple[str, str]]:
    """(what a filter keeps, the link without it) for each filter in use."""
    out = []
    if query.state:
        out.append((f"state {query.state}", query.url(state=None)))
    if query.family:
        out.append((f"family {query.family}", query.url(family=None)))
    for name, low, high in query.ranges:
        rest = tuple(r for r in query.ranges if r[0] != name)
        text = " ≤ ".join(x for x in (_g(low), name, _g(high)) if x)
        out.append((text, query.url(ranges=rest)))
    for name, values in query.matches:
        rest = tuple(m for m in query.matches if m[0] != name)
        out.append((f"{name} is {' or '.join(map(str, values))}", query.url(matches=rest)))
    return out


def _g(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _with_range(get) -> str:
    """The filter form's one range row (filter_param, filter_low, filter_high, or
    filter_value for a categorical parameter) as the query string's own keys."""
    query = get.copy()
    name = query.pop("filter_param", [""])[0]
    low, high = query.pop("filter_low", [""])[0], query.pop("filter_high", [""])[0]
    value = query.pop("filter_value", [""])[0]
    query.pop("page", None)
    if name:
        if low:
            query[f"min.{name}"] = low
        if high:
            query[f"max.{name}"] = high
        if value:
            query.appendlist(f"is.{name}", value)
    return f"?{query.urlencode()}"


def _figures(job: Job, sample) -> list[tuple[int, object]]:
    """The kind's figures with their place in its list (the key a live page redraws)."""
    kind = kinds.get(job.kind)
    return list(enumerate(kind.figures(job, sample, kind.metrics(job))))


@login_required
@require_GET
def job_charts(request: HttpRequest, pk: int) -> JsonResponse:
    """The job's figures as JSON, by key, for the live page to redraw (plotly.react keeps
    the user's zoom); a figure not drawable yet is null."""
    job = owned_or_404(request, pk)
    sample = explorer.chart_sample(job)
    figures = {
        str(key): None if fig is None else json.loads(plotly.io.to_json(themed(fig)))
        for key, fig in _figures(job, sample)
    }
    return JsonResponse({"figures": figures, "note": sample.note})


@login_required
@require_GET
def job_search_chart(request: HttpRequest, pk: int) -> JsonResponse:
    """The chart the page's picker asks for (as GET /api/v1/jobs/<id>/search-chart/): a
    wrong pick is a 400 naming it."""
    job = owned_or_404(request, pk)
    try:
        return JsonResponse(search_charts.answer(job, request.GET))
    except Invalid as exc:
        return JsonResponse(error_body(exc.code, exc.detail, exc.fields), status=exc.status)


@login_required
@require_GET
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the detail page polls: status, progress, trial counts, time taken and left."""
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
            **_timing(job),
        }
    )


def _timing(job: Job) -> dict:
    """Seconds it has run and, while running, an estimate of the seconds left: the time
    so far stretched over the progress still to make (None until 2 % is done), or what is
    left of its time budget when that ends it sooner; `left_from` says which."""
    if job.started_at is None:
        return {"elapsed_s": None, "left_s": None, "elapsed": "", "left": "", "left_from": ""}
    end = job.finished_at or timezone.now()
    elapsed = max(0.0, (end - job.started_at).total_seconds())
    left, left_from = None, ""
    if not job.is_finished and job.progress >= 0.02:
        left, left_from = elapsed * (1 - job.progress) / job.progress, "progress"
    budget = (job.config or {}).get("time_budget_s")
    if not job.is_finished and budget and (left is None or budget - elapsed < left):
        # The budget starts with the job on its worker, as elapsed does (see _budget).
        left, left_from = max(0.0, budget - elapsed), "time budget"
    return {
        "elapsed_s": elapsed,
        "left_s": left,
        "elapsed": seconds_text(elapsed),
        "left": "" if left is None else f"about {seconds_text(left)}",
        "left_from": left_from,
    }


def _budget(job: Job) -> dict | None:
    """{"used", "total"} of a time-budgeted job: what its close recorded, or while it runs
    the time since it started (the budget starts with the job on its worker)."""
    total = (job.config or {}).get("time_budget_s")
    if not total:
        return None
    recorded = (job.result or {}).get("budget") or {}
    used = recorded.get("used_s", _timing(job)["elapsed_s"] or 0.0)
    return {"used": seconds_text(used), "total": seconds_text(total), "share": used / total}


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


LOG_TAIL_LINES = 40


@login_required
@require_GET
def trial_drawer(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One trial at a glance, beside the table: parameters, values, learning curve,
    worker, duration, error and the end of its log (the trial page has the rest)."""
    job = owned_or_404(request, pk)
    trial = get_object_or_404(Trial, job=job, number=number)
    kind = kinds.get(job.kind)
    metrics = kind.metrics(job)
    seconds = None
    if trial.started_at and trial.finished_at:
        seconds = (trial.finished_at - trial.started_at).total_seconds()
    curve = charts.intermediate_values(
        [
            {
                "number": trial.number,
                "state": trial.state,
                "intermediate_values": trial.intermediate_values,
            }
        ],
        metrics[0],
    )
    lines = trial.log.splitlines()
    context = {
        "job": job,
        "trial": trial,
        "values": list(zip(metrics, trial.values or [], strict=False)),
        "params": [(name, _short(value)) for name, value in (trial.params or {}).items()]
        if kind.param_columns
        else [],
        "params_json": "" if kind.param_columns else json.dumps(trial.params, indent=2),
        "duration": "" if seconds is None else seconds_text(seconds),
        "failure_label": FAILURE_LABELS.get(trial.failure_class, ""),
        "curve": None if curve is None else figure_html(curve, height=220),
        "log_tail": "\n".join(lines[-LOG_TAIL_LINES:]),
        "log_cut": max(0, len(lines) - LOG_TAIL_LINES),
    }
    return render(request, "jobs/_drawer.html", context)


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
            # An empty field of the form is a field not given.
            given = {k: request.POST[k] for k in ("n_trials", "seconds") if request.POST.get(k)}
            more = ExtendSerializer(data=given)
            if not more.is_valid():
                problems = flatten_errors(more.errors).items()
                raise Invalid("; ".join(f"{field}: {' '.join(m)}" for field, m in problems))
            extend_job(job, **more.validated_data, actor=request.user)
            what = {"n_trials": "more trials", "seconds": "more seconds"}
            said = " and ".join(f"{n} {what[k]}" for k, n in more.validated_data.items())
            messages.success(request, f"Job {job.id}: {said}.")
        else:
            raise Http404("No such action.")
    except ServiceError as exc:
        messages.error(request, exc.detail)
    return redirect("job-page", pk=job.id)


@login_required
@require_POST
def job_retry_stage(request: HttpRequest, pk: int) -> HttpResponse:
    """Continue a failed or cancelled pipeline from the chosen stage."""
    job = owned_or_404(request, pk)
    stage = request.POST.get("stage", "")
    try:
        retry_stage(job, int(stage) if stage.isdigit() else stage, request.user)
    except ServiceError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Job {job.id} continues from stage {int(stage) + 1}.")
    return redirect("job-page", pk=job.id)


@login_required
@require_POST
def job_register_best(request: HttpRequest, pk: int) -> HttpResponse:
    job = owned_or_404(request, pk)
    try:
        number = register_best_so_far(job, request.user)
    except ServiceError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            f"Registering trial {number}, the best so far: a worker refits it on every search "
            "row; the model appears under Registered when it is done.",
        )
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
    # count(*) over the (job, state) index: no row is read, even on 50,000 trials.
    for row in trials.order_by().values("state").annotate(n=Count("*")):
        counts[row["state"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


def _failure_rows(job: Job) -> list[dict]:
    """Failed trials per class, most first, with the class's label."""
    found = failure_counts(job)
    return [
        {
            "failure_class": name,
            "label": FAILURE_LABELS.get(name, name),
            "advice": FAILURE_ADVICE.get(name, ""),
            "n": n,
        }
        for name, n in sorted(found.items(), key=lambda item: -item[1])
    ]


def _table_rows(rows, params: list[explorer.Param], n_metrics: int) -> list[dict]:
    out = []
    for row in rows:
        values = row["values"] or []
        given = row["params"] or {}
        seconds = None
        if row["started_at"] and row["finished_at"]:
            seconds = (row["finished_at"] - row["started_at"]).total_seconds()
        out.append(
            {
                "number": row["number"],
                "state": row["state"],
                "values": [values[i] if i < len(values) else None for i in range(n_metrics)],
                "params": [_short(given.get(p.name)) for p in params],
                "summary": "" if params else json.dumps(given)[:160],
                "steps": len(row["intermediate_values"] or {}),
                "seconds": seconds,
                "duration": "" if seconds is None else seconds_text(seconds),
                "failure_class": row["failure_class"],
                "failure_label": FAILURE_LABELS.get(row["failure_class"], ""),
                "retry_of": row["retry_of"],
                "excluded": row["excluded"],
                "tags": row["tags"] or [],
            }
        )
    return out


def seconds_text(seconds: float) -> str:
    """A duration in the unit a reader expects: 0.35 s, 42.1 s, 3 min 05 s, 2 h 07 min."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


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


@login_required
@require_POST
def job_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    """Run this job again on a cron schedule (its stored submission)."""
    from rest_framework.exceptions import ValidationError

    from automl.jobs import schedules

    job = owned_or_404(request, pk)
    try:
        schedule = schedules.create(
            request.user,
            name=request.POST.get("name", "").strip() or job.name,
            cron=request.POST.get("cron", ""),
            job=schedules.submission_of(job),
        )
    except ServiceError as exc:
        messages.error(request, exc.detail)
    except ValidationError as exc:
        errors = flatten_errors(exc.detail)
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
    else:
        messages.success(
            request,
            f"Scheduled ({schedule.cron}, UTC); next run {schedule.next_run_at:%Y-%m-%d %H:%M}.",
        )
        return redirect("schedules-page")
    return redirect("job-page", pk=job.id)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_list(request: HttpRequest) -> HttpResponse:
    """The user's schedules; POST switches one on or off, or deletes it."""
    from automl.jobs import schedules
    from automl.jobs.models import Schedule

    owned = Schedule.objects.owned_by(request.user)
    if request.method == "POST":
        schedule = get_object_or_404(owned, id=request.POST.get("id") or 0)
        if request.POST.get("delete"):
            schedule.delete()
            messages.success(request, f"Schedule {schedule.name} deleted.")
        else:
            schedules.update(schedule, enabled=request.POST.get("enabled") == "1")
        return redirect("schedules-page")
    return render(request, "jobs/schedules.html", {"schedules": owned.select_related("last_job")})


page_urls = [
    path("schedules/", schedule_list, name="schedules-page"),
    path("<int:pk>/schedule/", job_schedule, name="job-schedule-page"),
    path("", job_list, name="job-pages"),
    path("new/<str:kind>/", job_new, name="job-new-page"),
    path("<int:pk>/", job_page, name="job-page"),
    path("<int:pk>/status/", job_status, name="job-status-page"),
    path("<int:pk>/charts/", job_charts, name="job-charts-page"),
    path("<int:pk>/search-chart/", job_search_chart, name="job-search-chart-page"),
    path("<int:pk>/trials/<int:number>/drawer/", trial_drawer, name="trial-drawer-page"),
    path("<int:pk>/cancel/", job_cancel, name="job-cancel-page"),
    path("<int:pk>/trials/<int:number>/", trial_page, name="trial-page"),
    path("<int:pk>/rerun/", job_rerun, name="job-rerun-page"),
    path("<int:pk>/register-best/", job_register_best, name="job-register-best-page"),
    path("<int:pk>/retry-stage/", job_retry_stage, name="job-retry-stage-page"),
    path("<int:pk>/<str:action>/", job_control, name="job-control-page"),
    path("<int:pk>/trials/<int:number>/curate/", trial_curate, name="trial-curate-page"),
]
