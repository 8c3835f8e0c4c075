"""Browser pages of deployments: traffic, shadow, history, the latest predictions and a
try-it form that sends a prediction through the same path as the API."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from automl.registry.models import ModelVersion
from automl.serving import services
from automl.serving.models import Deployment


def _owned(request: HttpRequest, pk: int) -> Deployment:
    deployment = Deployment.objects.filter(owner=request.user, id=pk).first()
    if deployment is None:
        raise Http404("No such deployment")
    return deployment


@login_required
def deployment_list(request: HttpRequest) -> HttpResponse:
    deployments = Deployment.objects.filter(owner=request.user)
    return render(request, "serving/list.html", {"deployments": deployments})


@login_required
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _owned(request, pk)
    inputs, answer, error = request.POST.get("inputs", ""), None, ""
    if request.method == "POST":
        try:
            answer = json.dumps(services.predict(deployment, json.loads(inputs)), indent=1)
        except json.JSONDecodeError as exc:
            error = f"The rows are not valid JSON: {exc}"
        except services.ServingError as exc:
            error = exc.detail
    versions = {v.id: v for v in ModelVersion.objects.filter(
        owner=request.user, name=deployment.model_name)}
    total = sum(r["weight"] for r in deployment.routes) or 1
    routes = [{"version": versions.get(r["version"]), "id": r["version"],
               "share": 100 * r["weight"] / total} for r in deployment.routes]
    return render(request, "serving/detail.html", {
        "deployment": deployment, "routes": routes,
        "history": list(reversed(deployment.history))[:20],
        "predictions": deployment.predictions.all()[:50],
        "inputs": inputs, "answer": answer, "error": error,
    }, status=400 if error else 200)


@login_required
@require_POST
def deployment_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _owned(request, pk)
    try:
        services.rollback(deployment)
        messages.success(request, "Rolled back to the previous traffic split.")
    except services.ServingError as exc:
        messages.error(request, exc.detail)
    return redirect("deployment-page", pk=pk)
