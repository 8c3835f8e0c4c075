"""The compression job's form (a chain of steps on one of the user's torch models) and its
detail page (the per-step report and the size/latency vs. accuracy charts)."""

import pytest

from automl.jobs.models import Job
from tests.support.api import browser_for
from tests.support.factories import mlp_dir, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def torch_model(alice, iris, tmp_path, model_store):
    return register(alice, mlp_dir(tmp_path / "mlp"), name="iris-mlp", dataset=iris)


def test_the_form_submits_a_chain_on_the_models_own_data_set(alice, torch_model):
    page = browser_for(alice).get("/jobs/new/compression/").content.decode()
    assert "iris-mlp v1" in page and 'name="step_2"' in page
    response = browser_for(alice).post(
        "/jobs/new/compression/",
        {
            "model_version": torch_model.id,
            "step_1": "prune_structured",
            "amount": "0.3",
            "finetune_epochs": "2",
            "step_2": "weight_only",
            "bits": "4",
            "step_3": "",
            "device": "auto",
        },
    )
    job = Job.objects.get(owner=alice)
    assert response.status_code == 302 and response.url == f"/jobs/{job.id}/"
    assert job.kind == "compression" and job.dataset_id == torch_model.dataset_id
    steps = job.config["steps"]
    assert [s["technique"] for s in steps] == ["prune_structured", "weight_only"]
    assert (steps[0]["ratio"], steps[0]["finetune_epochs"], steps[1]["bits"]) == (0.3, 2, 4)


def test_another_users_model_is_not_a_choice(alice, bob, torch_model):
    response = browser_for(bob).post(
        "/jobs/new/compression/",
        {"model_version": torch_model.id, "step_1": "dynamic_int8", "device": "auto"},
    )
    assert response.status_code == 400 and not Job.objects.exists()
    assert "iris-mlp" not in response.content.decode()
    assert "Select a valid choice" in response.content.decode()


def test_a_bad_option_is_the_apis_error_beside_the_steps(alice, torch_model):
    response = browser_for(alice).post(
        "/jobs/new/compression/",
        {
            "model_version": torch_model.id,
            "step_1": "distill",
            "device": "auto",
            "advanced": '{"steps": [{"technique": "distill", "temperature": -1}]}',
        },
    )
    assert response.status_code == 400 and not Job.objects.exists()
    errors = response.context["form"].errors
    assert "temperature" in " ".join(errors["advanced"])
    response = browser_for(alice).post(
        "/jobs/new/compression/",
        {"model_version": torch_model.id, "step_1": "half", "device": "auto", "advanced": "[1]"},
    )
    assert response.context["form"].errors["advanced"] == ["must be a JSON object"]


@pytest.mark.parametrize(
    "extra",
    [{}, {"advanced": '{"steps": [{"technique": "qat", "epochs": 3}, {"technique": "half"}]}'}],
)
def test_run_again_resubmits_the_stored_config(alice, torch_model, extra):
    client = browser_for(alice)
    client.post(
        "/jobs/new/compression/",
        {
            "model_version": torch_model.id,
            "step_1": "prune_magnitude",
            "amount": "0.7",
            "step_2": "dynamic_int8",
            "device": "auto",
            "name": "first",
            **extra,
        },
    )
    first = Job.objects.get(owner=alice)
    initial = client.get(f"/jobs/new/compression/?from={first.id}").context["form"].initial
    data = {key: "" if value is None else value for key, value in initial.items()}
    assert client.post("/jobs/new/compression/", data).status_code == 302
    again = Job.objects.exclude(id=first.id).get()
    assert again.config == first.config


def _report(accuracy: float, size: int, latency: float) -> dict:
    return {
        "params": 100,
        "nonzero_params": 90,
        "file_bytes": size,
        "macs": 50,
        "latency_ms_b1": latency / 10,
        "latency_ms_b64": latency,
        "accuracy": accuracy,
    }


def test_the_detail_page_shows_each_steps_report_and_the_tradeoff_charts(alice, iris, torch_model):
    result = {
        "original": _report(0.95, 8192, 2.0),
        "stopped": False,
        "steps": [
            {
                "technique": "prune_structured",
                "report": _report(0.94, 4096, 1.0),
                "relative": {"size_ratio": 2.0, "speedup_b64": 2.0, "accuracy_delta": -0.01},
                "model_version": torch_model.id,
            }
        ],
    }
    job = Job.objects.create(
        owner=alice,
        kind="compression",
        dataset=iris,
        status="succeeded",
        config={"model_version": torch_model.id},
        result=result,
    )
    page = browser_for(alice).get(f"/jobs/{job.id}/").content.decode()
    assert 'id="compression-report"' in page and "1. prune_structured" in page
    charts = browser_for(alice).get(f"/jobs/{job.id}/charts/").json()["figures"].values()
    titles = [f["layout"]["title"]["text"] for f in charts if f is not None]
    assert "Size vs. accuracy" in titles and "Latency vs. accuracy" in titles
    assert f'href="/models/{torch_model.id}/"' in page


def test_the_tradeoff_chart_plots_every_step_in_chain_order():
    from automl.jobs.charts import compression_tradeoff

    result = {
        "original": _report(0.9, 2048, 3.0),
        "steps": [
            {"technique": "prune_magnitude", "report": _report(0.89, 2048, 2.5)},
            {"technique": "dynamic_int8", "report": _report(0.88, 512, 1.5)},
        ],
    }
    fig = compression_tradeoff(result, "file_bytes")
    assert list(fig.data[0].x) == [2.0, 2.0, 0.5]
    assert list(fig.data[0].y) == [0.9, 0.89, 0.88]
    assert list(fig.data[0].text) == ["original", "1. prune_magnitude", "2. dynamic_int8"]
    assert list(compression_tradeoff(result, "latency_ms_b64").data[0].x) == [3.0, 2.5, 1.5]
    assert compression_tradeoff({"steps": []}, "file_bytes") is None


def test_a_stored_config_sent_back_over_the_api_is_accepted(alice, torch_model):
    from rest_framework.test import APIClient

    browser_for(alice).post(
        "/jobs/new/compression/",
        {"model_version": torch_model.id, "step_1": "dynamic_int8", "device": "auto"},
    )
    first = Job.objects.get(owner=alice)
    api = APIClient()
    api.force_authenticate(alice)
    body = {"kind": "compression", "dataset": first.dataset_id, "config": first.config}
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["config"] == first.config
    body["config"] = {**first.config, "parallelism": 2}
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert "config.parallelism" in response.json()["fields"]
