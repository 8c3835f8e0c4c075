"""Browser pages of deployments: traffic, shadow, history, the latest predictions and a
try-it form that sends a prediction through the same path as the API."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from automl import audit, sorting
from automl.charts import plotly_js_tag
from automl.errors import ServiceError, as_message, on_form
from automl.registry import aliases
from automl.registry.models import ModelAlias, ModelVersion
from automl.serving import playground, traffic
from automl.serving.forms import DeploymentForm, TrafficForm, TryForm
from automl.serving.models import Deployment
from automl.serving.predict import predict


def monitoring_context(deployment: Deployment, policy_form=None) -> dict:
    """The monitoring policy form and the activity log of the deployment page."""
    from automl.monitoring.forms import PolicyForm
    from automl.monitoring.models import MonitoringPolicy

    policy = MonitoringPolicy.objects.filter(deployment=deployment).first()
    return {
        "policy": policy,
        "policy_form": policy_form or PolicyForm(instance=policy),
        "activities": deployment.activities.select_related("job")[:50],
    }


# The deployments list's sortable columns (automl.sorting): key -> the fields it orders.
DEPLOYMENT_SORTS = {
    "name": ("name",),
    "model": ("model_name", "name"),
    "shadow": ("shadow_id",),
    "updated": ("updated_at",),
}


@login_required
def deployment_list(request: HttpRequest) -> HttpResponse:
    """The user's deployments, and a form that deploys a model with a traffic split."""
    versions = ModelVersion.objects.owned_by(request.user)
    initial = {}
    if request.GET.get("version", "").isdigit():
        initial["main"] = versions.filter(id=int(request.GET["version"])).first()
    names = ModelAlias.objects.owned_by(request.user).values_list("alias", flat=True)
    form = DeploymentForm(
        request.POST or None, versions=versions, aliases=sorted(set(names)), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        routes, shadow = form.routes()
        deployment = on_form(
            form,
            lambda: traffic.create_deployment(
                request.user,
                name=form.cleaned_data["name"],
                model_name=form.cleaned_data["main"].name,
                routes=routes,
                shadow=shadow,
                batching=form.batching(),
                follows=form.cleaned_data["follows"],
            ),
            form.field_of,
        )
        if deployment is not None:
            messages.success(request, f"Deployed {deployment.model_name} as {deployment.name}.")
            return redirect("deployment-page", pk=deployment.id)
    sort = request.GET.get("sort", "")
    deployments = Deployment.objects.owned_by(request.user).order_by(
        *sorting.order_by(sort, DEPLOYMENT_SORTS, ["-updated_at", "-id"])
    )
    columns = [("name", "Name"), ("model", "Model"), ("shadow", "Shadow"), ("updated", "Updated")]
    return render(
        request,
        "serving/list.html",
        {
            "deployments": deployments,
            "form": form,
            "columns": sorting.headings(columns, sort, {}),
        },
        status=400 if form.errors else 200,
    )


@login_required
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The deployment, and its playground: a typed form (or JSON rows) sent through the
    same predict path as the API."""
    deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
    if request.method != "POST":
        return _detail(request, deployment, which_row=request.GET.get("row", ""))
    if "inputs" not in request.POST:
        return _playground_answer(request, deployment)
    inputs, answer = request.POST["inputs"], None  # the JSON box: rows as the API takes them
    form = TryForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        out = on_form(form, lambda: predict(deployment, data["inputs"], explain=data["explain"]))
        answer = None if out is None else json.dumps(out, indent=1)
    error = " ".join(e for errors in form.errors.values() for e in errors)
    return _detail(
        request,
        deployment,
        inputs=inputs,
        answer=answer,
        error=error,
        status=400 if error else 200,
    )


def _playground_answer(request: HttpRequest, deployment: Deployment) -> HttpResponse:
    """The playground form's row, predicted; the page shows the answer in the data's own
    labels and the request as curl and Python would send it."""
    explain = request.POST.get("explain") == "on"
    form_fields = playground.fields(_main_version(deployment))
    values = {f.name: request.POST.get(f.input_id, "") for f in form_fields}
    try:
        row = playground.row_from_form(form_fields, request.POST)
        answer = playground.answer_view(predict(deployment, [row], explain=explain))
    except ServiceError as exc:
        return _detail(
            request,
            deployment,
            values=values,
            error=exc.detail,
            field_errors={k: " ".join(v) for k, v in exc.fields.items()},
            status=400,
        )
    return _detail(request, deployment, values=values, played=answer, sent=[row])


def _main_version(deployment: Deployment) -> ModelVersion | None:
    """The version taking the most traffic: the playground's form is made of its inputs."""
    routed = max(deployment.routes, key=lambda r: r["weight"], default=None)
    return ModelVersion.objects.filter(id=routed["version"]).first() if routed else None


def _detail(
    request: HttpRequest,
    deployment: Deployment,
    *,
    traffic_form=None,
    inputs="",
    answer=None,
    error="",
    which_row="",
    values=None,
    field_errors=None,
    played=None,
    sent=None,
    policy_form=None,
    status=200,
) -> HttpResponse:
    versions = {
        v.id: v
        for v in ModelVersion.objects.owned_by(request.user).filter(name=deployment.model_name)
    }
    total = sum(r["weight"] for r in deployment.routes) or 1
    routes = [
        {
            "version": versions.get(r["version"]),
            "id": r["version"],
            "share": 100 * r["weight"] / total,
        }
        for r in deployment.routes
    ]
    main = _main_version(deployment)
    form_fields = playground.fields(main)
    picked = None
    if which_row and main is not None:
        try:
            picked = playground.data_row(main, which_row)
        except ServiceError as exc:
            error, status = exc.detail, 400
    if values is None:
        source = picked.values if picked else {f.name: f.typical for f in form_fields}
        values = {k: "" if v is None else str(v) for k, v in source.items()}
    field_errors = field_errors or {}
    return render(
        request,
        "serving/detail.html",
        {
            "deployment": deployment,
            "routes": routes,
            "history": list(reversed(deployment.history))[:20],
            "predictions": deployment.predictions.all()[:50],
            "inputs": inputs,
            "answer": answer,
            "error": error,
            "form": traffic_form or _traffic_form(request, deployment),
            "audit_rows": audit.rows(deployment),
            "playground": [
                (f, values.get(f.name, ""), field_errors.get(f.input_id, "")) for f in form_fields
            ],
            "main_version": main,
            "picked": picked,
            "played": played,
            "plotly_js": plotly_js_tag() if played else "",
            "example": _example(request, deployment, main, sent),
            "explain": request.POST.get("explain") == "on",
            **monitoring_context(deployment, policy_form),
        },
        status=status,
    )


def _example(
    request: HttpRequest, deployment: Deployment, main: ModelVersion | None, sent: list | None
) -> dict:
    """The request of the page's curl and Python snippets: the rows the playground just
    sent, else one row named by the main version's features (0 where the user puts a
    value)."""
    rows = sent or [{name: 0 for name in (main.features or [])} if main else {}]
    explain = request.POST.get("explain") == "on"
    path = f"/api/v1/deployments/{deployment.id}/predict/"
    return {
        "url": request.build_absolute_uri(path),
        "rows": json.dumps(rows),
        "body": json.dumps({"inputs": rows, "explain": explain}),
        "python_rows": repr(rows),
        "explain": explain,
        "host": request.build_absolute_uri("/").rstrip("/"),
    }


@login_required
@require_POST
@as_message("deployment-page")
def deployment_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
    traffic.rollback(deployment, request.user)
    messages.success(request, "Rolled back to the previous traffic split.")
    return redirect("deployment-page", pk=pk)


@login_required
@require_POST
def deployment_traffic(request: HttpRequest, pk: int) -> HttpResponse:
    """A new traffic split (the old one goes onto the rollback history) and batching."""
    deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
    form = _traffic_form(request, deployment, request.POST)
    if form.is_valid():
        routes, shadow = form.routes()

        def change() -> Deployment:
            batching = traffic.validate_batching(form.batching())
            changed = traffic.set_traffic(deployment, routes, shadow, request.user)
            changed = traffic.set_follows(changed, form.cleaned_data["follows"], request.user)
            if batching != deployment.batching:
                changed = traffic.set_batching(changed, batching, request.user)
            return changed

        if on_form(form, change, form.field_of) is not None:
            messages.success(request, "Traffic split changed.")
            return redirect("deployment-page", pk=pk)
    return _detail(request, deployment, traffic_form=form, status=400)


def _traffic_form(request: HttpRequest, deployment: Deployment, data=None) -> TrafficForm:
    versions = ModelVersion.objects.owned_by(request.user).filter(name=deployment.model_name)
    initial = {}
    routes = sorted(deployment.routes, key=lambda r: -r["weight"])
    if routes:
        initial["main"] = routes[0]["version"]
    if len(routes) > 1:
        total = sum(r["weight"] for r in routes)
        initial.update(
            canary=routes[1]["version"], canary_percent=round(100 * routes[1]["weight"] / total, 1)
        )
    initial["shadow"] = deployment.shadow_id
    initial["follows"] = deployment.follows
    if deployment.batching:
        initial.update(
            batch_rows=deployment.batching["max_batch_rows"],
            batch_wait_ms=deployment.batching["max_wait_ms"],
        )
    names = aliases.of_name(deployment.owner, deployment.model_name)
    return TrafficForm(data, versions=versions, aliases=sorted(names), initial=initial)


@login_required
@require_POST
def deployment_policy(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the deployment's monitoring policy (the API's bounds, the API's words)."""
    from automl.monitoring.forms import PolicyForm
    from automl.monitoring.models import MonitoringPolicy

    deployment = get_object_or_404(Deployment.objects.owned_by(request.user), id=pk)
    policy = MonitoringPolicy.objects.filter(deployment=deployment).first()
    form = PolicyForm(request.POST, instance=policy)
    if form.save_policy(deployment) is not None:
        messages.success(request, "Monitoring policy saved.")
        return redirect(reverse("deployment-page", args=[pk]) + "#monitoring")
    return _detail(request, deployment, policy_form=form, status=400)
