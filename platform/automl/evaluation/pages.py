"""The evaluation section of the model page, the significance rows of the compare page,
and the model card page. The registry's pages call the *_context functions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from automl.charts import figure_html, plotly_js_tag
from automl.errors import ServiceError, as_message
from automl.evaluation import cards, charts, services
from automl.evaluation.models import Evaluation
from automl.registry.models import ModelVersion


def section_context(version: ModelVersion) -> dict:
    """What the model page's evaluation section shows."""
    from automl.jobs import charts as job_charts

    evaluation = Evaluation.objects.filter(version=version).first()
    report = evaluation.report if evaluation and evaluation.status == "succeeded" else {}
    figures = [fig for fig in (f(report) for f in charts.FIGURES) if fig is not None]
    importance = charts.permutation_importance(report)
    hpo = job_charts.importances(report.get("hpo_importances") or {})
    peers = []
    if evaluation and evaluation.rows_key:
        peers = list(
            ModelVersion.objects.filter(
                owner=version.owner_id,
                evaluation__rows_key=evaluation.rows_key,
                evaluation__status=Evaluation.Status.SUCCEEDED,
            )
            .exclude(id=version.id)
            .order_by("name", "-version")[:50]
        )
    return {
        "evaluation": evaluation,
        "report": report,
        "evaluable": services.not_evaluable(version) is None,
        "evaluation_figures": [figure_html(f) for f in figures],
        "importance_figure": figure_html(importance) if importance else None,
        "hpo_importance_figure": figure_html(hpo) if hpo else None,
        "comparable": peers,
        "plotly_js": plotly_js_tag(),
    }


def comparison_context(versions: list[ModelVersion]) -> dict:
    """The first version against each other one: the test, or why there is none."""
    rows = []
    for other in versions[1:]:
        try:
            rows.append({"b": other, "result": services.compare(versions[0], other)})
        except ServiceError as exc:  # one pair's refusal is a row of the table, not the page's
            rows.append({"b": other, "error": exc.detail})
    return {"significance": rows}


@login_required
@require_POST
@as_message("model-page")
def evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    services.request_evaluation(
        get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk)
    )
    messages.info(request, "Evaluation queued: a worker computes it; reload in a moment.")
    return redirect("model-page", pk=pk)


@login_required
def card(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(
        cards.card_html(get_object_or_404(ModelVersion.objects.owned_by(request.user), id=pk))
    )


page_urls = [
    path("<int:pk>/evaluation/", evaluate, name="model-evaluate-page"),
    path("<int:pk>/card/", card, name="model-card-page"),
]
