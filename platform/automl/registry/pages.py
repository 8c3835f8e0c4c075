"""Browser pages of the model repository (server-rendered, signed-in users)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from automl.registry import services
from automl.registry.models import ModelVersion


def _owned(request: HttpRequest, pk: int) -> ModelVersion:
    version = ModelVersion.objects.filter(owner=request.user, id=pk).first()
    if version is None:
        raise Http404("No such model version")
    return version


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    versions = ModelVersion.objects.filter(owner=request.user)
    stage = request.GET.get("stage", "")
    if stage in ModelVersion.Stage.values:
        versions = versions.filter(stage=stage)
    if search := request.GET.get("search", "").strip():
        versions = versions.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return render(
        request,
        "registry/list.html",
        {
            "versions": versions.order_by("name", "-version")[:500],
            "stages": ModelVersion.Stage,
            "stage": stage,
            "search": search,
        },
    )


@login_required
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = _owned(request, pk)
    siblings = ModelVersion.objects.filter(owner=request.user, name=version.name)
    from automl.evaluation.pages import section_context

    return render(
        request,
        "registry/detail.html",
        {
            "version": version,
            "lineage": services.lineage(version),
            "siblings": siblings.order_by("-version")[:50],
            "next_stages": sorted(services.TRANSITIONS[version.stage]),
            **section_context(version),
        },
    )


@login_required
@require_POST
def model_stage(request: HttpRequest, pk: int) -> HttpResponse:
    version = _owned(request, pk)
    try:
        services.set_stage(version, request.POST.get("stage", ""))
    except services.RegistryError as exc:
        messages.error(request, exc.detail)
    return redirect("model-page", pk=pk)


@login_required
def model_compare(request: HttpRequest) -> HttpResponse:
    ids = [int(p) for p in request.GET.getlist("ids") if p.isdigit()]
    ids += [int(p) for p in request.GET.get("id_list", "").split(",") if p.strip().isdigit()]
    found = {v.id: v for v in ModelVersion.objects.filter(owner=request.user, id__in=ids)}
    versions = [found[i] for i in dict.fromkeys(ids) if i in found]
    metrics = sorted({m for v in versions for m in v.metrics})
    rows = [(m, [v.metrics.get(m) for v in versions]) for m in metrics]
    from automl.evaluation.pages import comparison_context

    return render(
        request,
        "registry/compare.html",
        {"versions": versions, "rows": rows, **comparison_context(versions)},
    )


@login_required
@require_POST
def model_import(request: HttpRequest) -> HttpResponse:
    """A new version from a zip as the download gives it, or from a safetensors file and
    its JSON spec (what a torch model trained elsewhere brings)."""
    uploads = {f: request.FILES[f] for f in ("archive", "weights", "spec") if f in request.FILES}
    name = request.POST.get("name", "").strip()
    loose = {"weights", "spec"} & set(uploads)
    if not name or not uploads:
        messages.error(
            request,
            "Import needs a name and a .zip file, or a .safetensors file with its spec .json.",
        )
    elif "archive" in uploads and loose:
        messages.error(request, "Give either a .zip or the loose files, not both.")
    elif loose and loose != {"weights", "spec"}:
        messages.error(
            request, "A .safetensors file needs its spec .json, and the other way round."
        )
    elif any(u.size > settings.MODEL_MAX_UPLOAD_BYTES for u in uploads.values()):
        messages.error(
            request,
            "The file is larger than the upload limit "
            f"(MODEL_MAX_UPLOAD_BYTES: {settings.MODEL_MAX_UPLOAD_BYTES} bytes).",
        )
    else:
        try:
            files = dict(uploads)
            if "spec" in files:
                files["spec"] = services.read_spec(files["spec"])
            version = services.import_model(request.user, name=name, **files)
        except services.RegistryError as exc:
            messages.error(request, exc.detail)
        else:
            return redirect("model-page", pk=version.id)
    return redirect("models-page")
