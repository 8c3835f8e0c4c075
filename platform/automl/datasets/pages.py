"""The data set pages: a list with an upload form, and a detail page with the profile,
its histograms, the jobs on the data set and a form that starts an HPO search."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException, ValidationError

from automl.api import flatten_errors
from automl.charts import figure_html, plotly_js_tag
from automl.datasets import charts, services
from automl.datasets.forms import HpoJobForm, UploadForm
from automl.datasets.models import Dataset
from automl.datasets.views import receive_upload
from automl.errors import InUse, on_form
from automl.jobs.models import Job
from automl.jobs.serializers import JobSubmitSerializer
from automl.jobs.services import submit_job

MAX_CHARTS = 60  # columns drawn on a detail page; the table lists them all


def visible_or_404(request: HttpRequest, pk: int) -> Dataset:
    return get_object_or_404(Dataset.visible_to(request.user).select_related("owner"), id=pk)


def _list(request: HttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    datasets = Dataset.visible_to(request.user).select_related("owner").order_by("source", "id")
    return render(
        request, "datasets/list.html", {"datasets": datasets, "form": form}, status=status
    )


@csrf_exempt  # the upload handler must be in place before the CSRF check reads the body
@login_required
@require_http_methods(["GET", "POST"])
def dataset_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _list(request, UploadForm())
    # Errors found past the form's own checks are shown on it (its body is gone by then).
    form = UploadForm(data={}, files={})
    form.full_clean()
    form.errors.clear()

    def form_data(req):
        checked = _csrf_checked(req)
        if checked is not None:
            raise _CsrfFailed(checked)
        bound = UploadForm(req.POST, req.FILES)
        if not bound.is_valid():
            raise _FormInvalid(bound)
        return bound.cleaned_data["file"], bound.cleaned_data

    def to_field(path: str) -> str:
        return path if path in form.fields else "file"

    try:
        dataset = on_form(form, lambda: receive_upload(request, form_data, request.user), to_field)
    except _CsrfFailed as exc:
        return exc.response
    except _FormInvalid as exc:
        return _list(request, exc.form, status=400)
    except ValidationError as exc:  # from the multipart parser: e.g. two files
        for path, errs in flatten_errors(exc.detail).items():
            form.add_error(path if path in form.fields else None, " ".join(errs))
        return _list(request, form, status=400)
    except APIException as exc:  # the size limit (413)
        form.add_error("file", str(exc.detail))
        return _list(request, form, status=exc.status_code)
    if dataset is None:
        return _list(request, form, status=400)
    messages.success(request, f"Uploaded {dataset.name}.")
    return redirect("dataset-page", pk=dataset.id)


class _CsrfFailed(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class _FormInvalid(Exception):
    def __init__(self, form: UploadForm) -> None:
        self.form = form


def _csrf_checked(request: HttpRequest) -> HttpResponse | None:
    """None when the CSRF token is good, else the 403 (reading the token parses the body,
    with our upload handler)."""
    middleware = CsrfViewMiddleware(lambda r: None)
    middleware.process_request(request)
    return middleware.process_view(request, None, (), {})


def _detail(
    request: HttpRequest, dataset: Dataset, job_form: HpoJobForm, status: int = 200
) -> HttpResponse:
    profile = dataset.profile or {}
    columns = profile.get("columns", [])
    figures = []
    for column in columns[:MAX_CHARTS]:
        fig = charts.column_figure(column)
        if fig is not None:
            figures.append(figure_html(fig))
    target = profile.get("target") or {}
    balance = charts.class_balance(target)
    jobs = Job.objects.owned_by(request.user).filter(dataset=dataset).order_by("-id")[:20]
    sample_columns, sample_rows = services.first_rows(dataset)
    return render(
        request,
        "datasets/detail.html",
        {
            "dataset": dataset,
            "profile": profile,
            "columns": columns,
            "target": target,
            "suggested_drops": profile.get("suggested_drops") or [],
            "figures": figures,
            "sample_columns": sample_columns,
            "sample_rows": sample_rows,
            "balance": figure_html(balance) if balance else "",
            "plotly_js": plotly_js_tag(),
            "job_form": job_form,
            "jobs": jobs,
            "can_delete": dataset.owner_id == request.user.id,
        },
        status=status,
    )


@login_required
def dataset_page(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = visible_or_404(request, pk)
    return _detail(request, dataset, HpoJobForm(dataset=dataset))


@login_required
@require_POST
def dataset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = visible_or_404(request, pk)
    if dataset.owner_id != request.user.id:
        messages.error(request, "Built-in data sets cannot be deleted.")
        return redirect("dataset-page", pk=pk)
    try:
        services.delete_dataset(dataset)
    except InUse as exc:  # the page stays, with what uses the data set
        messages.error(request, exc.detail)
        return _detail(request, dataset, HpoJobForm(dataset=dataset), status=exc.status)
    messages.success(request, f"Deleted {dataset.name}.")
    return redirect("dataset-pages")


@login_required
@require_POST
def dataset_job(request: HttpRequest, pk: int) -> HttpResponse:
    """Start an HPO search on the data set through the jobs API's own validation."""
    dataset = visible_or_404(request, pk)
    form = HpoJobForm(request.POST, dataset=dataset)
    if not form.is_valid():
        return _detail(request, dataset, form, status=400)
    submission = JobSubmitSerializer(
        data={
            "kind": "hpo",
            "name": form.cleaned_data["name"],
            "dataset": dataset.id,
            "config": form.config(),
        },
        context={"request": request},
    )
    if not submission.is_valid():
        for path, errs in flatten_errors(submission.errors).items():
            field = path.removeprefix("config.").removeprefix("preprocessing.")
            form.add_error(field if field in form.fields else None, f"{path}: {' '.join(errs)}")
        return _detail(request, dataset, form, status=400)
    job = on_form(form, lambda: submit_job(request.user, **submission.validated_data))
    if job is None:  # over the user's quota: said beside the form
        return _detail(request, dataset, form, status=429)
    messages.success(request, f"Job {job.id} queued: {job.name}.")
    return redirect("dataset-page", pk=pk)
