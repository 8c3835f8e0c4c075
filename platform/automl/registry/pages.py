"""Browser pages of the model repository (server-rendered, signed-in users)."""

import math
from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from automl import audit, sorting
from automl.errors import as_message
from automl.registry import aliases, services
from automl.registry.models import ModelVersion

# Columns of the models list a user can sort by (?sort=key, or -key for descending), and
# the model field each orders; "metric:<name>" sorts by one of the metric columns.
SORTS = {
    "name": ("name", "-version"),
    "version": ("version",),
    "stage": ("stage",),
    "task": ("task",),
    "family": ("family",),
    "size": ("size",),
    "created": ("created_at",),
}
DEFAULT_METRIC_COLUMNS = 3
MAX_LISTED = 500


def compact(value) -> str:
    """A number in three significant digits, thousands as k, M, G, T (12345 -> 12.3k,
    0.91234 -> 0.912); '-' for a value that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    rounded = float(f"{value:.3g}")  # first, so 999.6 becomes 1k rather than 1e+03
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(rounded) >= size:
            return f"{rounded / size:.3g}{suffix}"
    return f"{rounded:.3g}"


def _ordering(sort: str, metrics: list[str]) -> list:
    """The order_by of `sort`: a column of SORTS or a metric column; the newest first."""
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    if key.startswith("metric:") and key[len("metric:") :] in metrics:
        field = F(f"metrics__{key[len('metric:') :]}")
        return [field.desc(nulls_last=True) if descending else field.asc(nulls_last=True), "id"]
    return sorting.order_by(sort, SORTS, ["-created_at", "-id"])


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    """The user's versions: filtered by stage and words, sorted by any column (the server
    sorts, so every version counts, not one page), with the metrics the user picks as
    columns."""
    owned = ModelVersion.objects.owned_by(request.user)
    versions = owned
    stage = request.GET.get("stage", "")
    if stage in ModelVersion.Stage.values:
        versions = versions.filter(stage=stage)
    if search := request.GET.get("search", "").strip():
        versions = versions.filter(Q(name__icontains=search) | Q(description__icontains=search))
    counts = Counter(m for ms in owned.values_list("metrics", flat=True)[:MAX_LISTED] for m in ms)
    available = sorted(counts)
    chosen = [m for m in request.GET.getlist("metric") if m in counts]
    chosen = chosen or [m for m, _ in counts.most_common(DEFAULT_METRIC_COLUMNS)]
    sort = request.GET.get("sort", "")
    rows = [
        (v, [compact(v.metrics.get(m)) for m in chosen])
        for v in versions.order_by(*_ordering(sort, chosen))[:MAX_LISTED]
    ]
    kept = {"stage": stage, "search": search, "metric": chosen}
    columns = [
        ("name", "Name"),
        ("version", "Version"),
        ("stage", "Stage"),
        ("task", "Task"),
        ("family", "Family"),
        *((f"metric:{m}", m) for m in chosen),
        ("size", "Size"),
        ("created", "Created"),
    ]
    return render(
        request,
        "registry/list.html",
        {
            "rows": rows,
            "columns": sorting.headings(columns, sort, kept),
            "stages": ModelVersion.Stage,
            "stage": stage,
            "search": search,
            "available_metrics": available,
            "chosen_metrics": chosen,
        },
    )


@login_required
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
    siblings = ModelVersion.objects.owned_by(request.user).filter(name=version.name)
    from automl.evaluation.pages import section_context

    return render(
        request,
        "registry/detail.html",
        {
            "version": version,
            "metrics": [(name, value, compact(value)) for name, value in version.metrics.items()],
            "lineage": services.lineage(version),
            "siblings": siblings.order_by("-version")[:50],
            "next_stages": sorted(services.TRANSITIONS[version.stage]),
            "refusals": version.refusals(),
            "audit_rows": audit.rows(version),
            "aliases": sorted(a.alias for a in version.aliases.all()),
            "name_aliases": aliases.of_name(version.owner, version.name),
            **section_context(version),
        },
    )


@login_required
@require_POST
@as_message("model-page")
def model_stage(request: HttpRequest, pk: int) -> HttpResponse:
    services.set_stage(
        get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk),
        request.POST.get("stage", ""),
        request.user,
    )
    return redirect("model-page", pk=pk)


@login_required
@require_POST
@as_message("model-page")
def model_alias(request: HttpRequest, pk: int) -> HttpResponse:
    """Set (or move here) the alias named in the form, or remove it (`remove`)."""
    version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
    alias = request.POST.get("alias", "").strip()
    if request.POST.get("remove"):
        aliases.remove_alias(version, alias, request.user)
        messages.success(request, f"Removed the alias {alias}.")
    else:
        aliases.set_alias(version, alias, request.user)
        messages.success(request, f"{version} is now {alias}.")
    return redirect("model-page", pk=pk)


@login_required
def model_compare(request: HttpRequest) -> HttpResponse:
    # ?ids=3&ids=7 (the list's checkboxes), ?ids=3,7 as the API takes, or the form's id_list.
    given = [*request.GET.getlist("ids"), request.GET.get("id_list", "")]
    ids = [int(p) for value in given for p in value.split(",") if p.strip().isdigit()]
    found = {v.id: v for v in ModelVersion.objects.owned_by(request.user).filter(id__in=ids)}
    versions = [found[i] for i in dict.fromkeys(ids) if i in found]
    metrics = sorted({m for v in versions for m in v.metrics})
    rows = [
        (m, [(v.metrics.get(m), compact(v.metrics.get(m))) for v in versions]) for m in metrics
    ]
    from automl.evaluation.pages import comparison_context

    return render(
        request,
        "registry/compare.html",
        {
            "versions": versions,
            "rows": rows,
            **_overlaid_curves(versions),
            **comparison_context(versions),
        },
    )


def _overlaid_curves(versions: list[ModelVersion]) -> dict:
    """The compared versions' ROC and precision-recall curves, overlaid, from their
    evaluation reports (the versions not evaluated yet are named instead)."""
    from automl.charts import figure_html, plotly_js_tag
    from automl.evaluation import charts
    from automl.evaluation.models import Evaluation

    done = Evaluation.objects.filter(version__in=versions, status=Evaluation.Status.SUCCEEDED)
    report_of = {e.version_id: e.report for e in done}
    reports = [(f"v{v.version} {v.name}", report_of[v.id]) for v in versions if v.id in report_of]
    figures = [f for f in (charts.roc_overlay(reports), charts.pr_overlay(reports)) if f]
    return {
        "curve_figures": [figure_html(f) for f in figures],
        "not_evaluated": [v for v in versions if v.id not in report_of],
        "plotly_js": plotly_js_tag() if figures else "",
    }


@login_required
@require_POST
@as_message("models-page")
def model_import(request: HttpRequest) -> HttpResponse:
    """A new version from a zip as the download gives it, or from a model trained elsewhere:
    its JSON spec with safetensors weights (torch), a skops pipeline or an ONNX graph."""
    fields = ("archive", "spec", *services.LOOSE_MODEL_FILES)
    uploads = {f: request.FILES[f] for f in fields if f in request.FILES}
    name = request.POST.get("name", "").strip()
    loose = {"spec", *services.LOOSE_MODEL_FILES} & set(uploads)
    if not name or not uploads:
        messages.error(
            request,
            "Import needs a name and a .zip file, or a spec .json with its model file.",
        )
    elif "archive" in uploads and loose:
        messages.error(request, "Give either a .zip or the loose files, not both.")
    elif loose and ("spec" not in loose or len(loose) != 2):
        messages.error(
            request,
            "Give the spec .json and one model file (.safetensors, .skops, .onnx or .pt2).",
        )
    elif any(u.size > settings.MODEL_MAX_UPLOAD_BYTES for u in uploads.values()):
        messages.error(
            request,
            "The file is larger than the upload limit "
            f"(MODEL_MAX_UPLOAD_BYTES: {settings.MODEL_MAX_UPLOAD_BYTES} bytes).",
        )
    else:
        files = dict(uploads)
        if "spec" in files:
            files["spec"] = services.read_spec(files["spec"])
        version = services.import_model(request.user, name=name, **files)
        return redirect("model-page", pk=version.id)
    return redirect("models-page")


@login_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    """The user's webhooks, and a form that subscribes a URL to events; the new secret is
    shown once, on the page the form returns to."""
    from automl.errors import ServiceError
    from automl.registry import webhooks
    from automl.registry.models import Webhook

    if request.method == "POST":
        try:
            hook = webhooks.subscribe(
                request.user, request.POST.get("url", "").strip(), request.POST.getlist("events")
            )
        except ServiceError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(
                request,
                f"Webhook {hook.id} created. Its signing secret (shown only now): {hook.secret}",
            )
        return redirect("webhooks-page")
    return render(
        request,
        "registry/webhooks.html",
        {"webhooks": Webhook.objects.owned_by(request.user), "events": webhooks.EVENTS},
    )


@login_required
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A webhook's delivery log; POST switches it on or off, or deletes it."""
    from automl.registry.models import Webhook

    hook = get_object_or_404(Webhook.objects.owned_by(request.user), id=pk)
    if request.method == "POST":
        if request.POST.get("delete"):
            hook.delete()
            messages.success(request, f"Webhook {pk} deleted.")
            return redirect("webhooks-page")
        hook.active = request.POST.get("active") == "1"
        hook.save(update_fields=["active"])
        return redirect("webhook-page", pk=pk)
    return render(
        request,
        "registry/webhook.html",
        {"hook": hook, "deliveries": hook.deliveries.all()[:100]},
    )
