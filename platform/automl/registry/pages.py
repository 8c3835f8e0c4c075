"""Browser pages of the model repository (server-rendered, signed-in users)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from automl import audit
from automl.errors import as_message
from automl.registry import aliases, services
from automl.registry.models import ModelVersion


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    versions = ModelVersion.objects.owned_by(request.user)
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
    version = get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
    siblings = ModelVersion.objects.owned_by(request.user).filter(name=version.name)
    from automl.evaluation.pages import section_context

    return render(
        request,
        "registry/detail.html",
        {
            "version": version,
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
    rows = [(m, [v.metrics.get(m) for v in versions]) for m in metrics]
    from automl.evaluation.pages import comparison_context

    return render(
        request,
        "registry/compare.html",
        {"versions": versions, "rows": rows, **comparison_context(versions)},
    )


@login_required
@require_POST
@as_message("models-page")
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
