"""Every axis of every figure a user sees is titled with what it measures and its unit
(the metric's name, seconds, %): walked over the job page's charts (and its search-space
charts), a model's page with its evaluation, and a deployment's monitoring page."""

import html
import json
import re

import pytest

from automl.registry.models import ModelVersion
from tests.api_tests.test_trial_explorer import auto_job
from tests.support.api import browser_for, client_for
from tests.support.factories import FEATURES, evaluated, forest_dir, iris_xy, register, run_hpo
from tests.support.traffic import traffic
from workers.data.reference import reference_stats

pytestmark = pytest.mark.django_db

CARTESIAN = {"scatter", "scattergl", "bar", "histogram", "heatmap", "contour", "box"}


def page_figures(page: str) -> list[dict]:
    return [json.loads(html.unescape(f)) for f in re.findall(r'data-figure="([^"]*)"', page)]


def untitled(figure: dict) -> list[str]:
    """The axes (and parallel-coordinates axes) of `figure` that a reader cannot name."""
    layout = figure.get("layout") or {}
    name = ((layout.get("title") or {}).get("text")) or "untitled figure"
    missing = []
    for trace in figure["data"]:
        if trace.get("type", "scatter") in CARTESIAN:
            for axis in (trace.get("xaxis", "x"), trace.get("yaxis", "y")):
                key = f"{axis[0]}axis{axis[1:]}"
                settings = layout.get(key) or {}
                # A shared axis ("matches") is named by the one it follows.
                shown = settings.get("visible") is not False and not settings.get("matches")
                if shown and not ((settings.get("title") or {}).get("text")):
                    missing.append(f"{name}: {key}")
        if trace.get("type") == "parcoords":
            missing += [f"{name}: a parcoords axis" for d in trace["dimensions"] if not d["label"]]
    return sorted(set(missing))


def test_every_axis_on_the_job_model_and_deployment_pages_is_titled(
    alice, alice_api, iris, staff, model_store, tmp_path
):
    alice_browser = browser_for(alice)
    figures = []
    # A model: auto job: its live charts and each search-space chart.
    job = auto_job(alice, iris)
    figures += [
        f for f in alice_browser.get(f"/jobs/{job.id}/charts/").json()["figures"].values() if f
    ]
    for chart in ("parcoords", "contour", "slice", "edf"):
        figures.append(
            alice_browser.get(
                f"/jobs/{job.id}/search-chart/?chart={chart}&family=svm&param=svm.C&param=svm.kernel"
            ).json()["figure"]
        )
    # A job run here: its page, the trial drawer, its model's page with the evaluation.
    ran = run_hpo(alice, iris, model="random_forest")
    version, _ = evaluated(ran)
    figures += [
        f for f in alice_browser.get(f"/jobs/{ran.id}/charts/").json()["figures"].values() if f
    ]
    figures += page_figures(alice_browser.get(f"/jobs/{ran.id}/trials/0/drawer/").content.decode())
    figures += page_figures(alice_browser.get(f"/models/{version.id}/").content.decode())
    # A deployment of a served model with traffic and a drift report: its monitoring page.
    from automl.serving.traffic import create_deployment

    served = forest_dir(tmp_path / "served")
    X, _ = iris_xy()
    (served / "reference.json").write_text(json.dumps(reference_stats(X, FEATURES)))
    register(alice, served, name="iris-served")
    deployment = create_deployment(
        alice,
        name="iris-live",
        model_name="iris-served",
        routes=[{"version": ModelVersion.objects.get(name="iris-served").id, "weight": 1}],
        cache_ttl_s=0,
    )
    traffic(alice_api, deployment, seed=0, n=100)
    staff_api = client_for(staff)
    assert (
        staff_api.post(
            "/api/v1/monitoring/drift/", {"deployment": deployment.id}, format="json"
        ).status_code
        == 201
    )
    staff_browser = browser_for(staff)
    figures += page_figures(
        staff_browser.get(f"/monitoring/deployments/{deployment.id}/").content.decode()
    )
    figures += page_figures(staff_browser.get("/monitoring/").content.decode())

    assert len(figures) >= 15
    missing = [axis for figure in figures for axis in untitled(figure)]
    assert not missing, "\n".join(missing)


def test_the_nas_compression_and_multi_objective_charts_name_their_axes():
    """Charts of job kinds the walk above does not run, from their builders."""
    from automl.jobs import charts

    report = {"accuracy": 0.9, "file_bytes": 2048, "latency_ms_b64": 3.0, "latency_ms_b1": 1.0}
    result = {"original": report, "steps": [{"technique": "dynamic_int8", "report": report}]}
    trials = [
        {"number": n, "state": "complete", "params": {}, "values": v}
        for n, v in enumerate([[0.9, 100.0], [0.8, 10.0]])
    ]
    history = [{"epoch": 0, "normal": [[0.5, 0.5]]}, {"epoch": 1, "normal": [[0.9, 0.1]]}]
    figures = [
        charts.pareto_front(trials, ["accuracy", "n_params"], [{"number": 1}]),
        charts.alpha_heatmap(
            history, {"ops": ["skip_connect", "sep_conv_3x3"], "edges": ["0->2"]}
        ),
        charts.compression_tradeoff(result, "file_bytes"),
        charts.compression_tradeoff(result, "latency_ms_b64"),
        charts.genotype_graph({"space": "mlp", "layers": [{"width": 8}]}),
        charts.pipeline_graph([{"label": "tune", "status": "succeeded", "job": 1}]),
    ]
    missing = [axis for fig in figures for axis in untitled(json.loads(fig.to_json()))]
    assert not missing, "\n".join(missing)
