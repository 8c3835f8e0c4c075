"""The deployment page's playground on what an analyst brings: an uploaded CSV with a
category, dates, gaps and a string target. One typed field per feature, a data set row to
start from, the answer in the data's own labels, and models warmed when deployed."""

import json
import time

import pytest
from django.utils.html import escape

from automl.serving.loader import model_cache
from automl.serving.traffic import create_deployment, set_traffic
from tests.support.api import browser_for, upload
from tests.support.data import churn_csv
from tests.support.factories import forest_dir, register, run_hpo

pytestmark = pytest.mark.django_db


@pytest.fixture
def churn(alice, alice_api, model_store, artifacts):
    """A random forest trained by a job on the churn CSV, deployed as `churn-live`."""
    from automl.datasets.models import Dataset
    from automl.registry.models import ModelVersion

    response = upload(alice_api, "churn.csv", churn_csv(), target="churned")
    dataset = Dataset.objects.get(id=response.json()["id"])
    job = run_hpo(alice, dataset, name="churn", model="random_forest", n_trials=1)
    version = ModelVersion.objects.get(job=job)
    deployment = create_deployment(
        alice,
        name="churn-live",
        model_name=version.name,
        routes=[{"version": version.id, "weight": 1}],
    )
    return version, deployment


def field_html(page: str, name: str) -> str:
    """The playground's markup of one feature's field."""
    start = page.index(f'for="feature-{name}"')
    return page[start : page.index("</div>", start)]


def test_one_typed_field_per_feature_from_the_stored_spec(alice, churn):
    version, deployment = churn
    page = browser_for(alice).get(f"/deployments/{deployment.id}/").content.decode()
    assert 'type="number" step="any" id="feature-tenure"' in page
    plan = field_html(page, "plan")
    assert "<select" in plan and all(f">{p}</option>" in plan for p in ("basic", "plus", "pro"))
    assert 'type="date" id="feature-signed_up"' in page
    assert 'id="feature-monthly"' in page
    # Pre-filled with typical training values: the median tenure, the commonest plan.
    assert 'value="31.5"' in field_html(page, "tenure")
    assert 'value="plus" selected' in plan


def test_a_data_set_row_fills_the_form_and_shows_its_actual_label(alice, churn):
    version, deployment = churn
    client = browser_for(alice)
    lines = churn_csv().splitlines()
    tenure, plan, signed_up, monthly, churned = lines[1 + 4].split(";")
    page = client.get(f"/deployments/{deployment.id}/?row=4").content.decode()
    assert f'value="{tenure}"' in field_html(page, "tenure")
    assert f'value="{plan}" selected' in field_html(page, "plan")
    assert f'value="{signed_up}"' in field_html(page, "signed_up")
    assert "Row 4 of 160" in page and f"<strong>{churned}</strong>" in page
    page = client.get(f"/deployments/{deployment.id}/?row=random")
    assert page.status_code == 200 and "of 160 of churn" in page.content.decode()
    page = client.get(f"/deployments/{deployment.id}/?row=5000")
    assert page.status_code == 400 and "pick a row from 0 to 159" in page.content.decode()


def test_the_form_predicts_labels_and_probabilities_and_shows_the_request(alice, churn):
    version, deployment = churn
    client = browser_for(alice)
    form = {
        "feature-tenure": "50",
        "feature-plan": "basic",
        "feature-signed_up": "2023-05-04",
        "feature-monthly": "",  # missing, as in the CSV
    }
    response = client.post(f"/deployments/{deployment.id}/", form)
    page = response.content.decode()
    assert response.status_code == 200, page
    answer = page.split('id="playground-answer"')[1].split("Rows as JSON")[0]
    probabilities = answer.split('aria-label="probabilities"')[1].split("</table>")[0]
    # Labels of the data ("yes"/"no"), not class indices; basic + long tenure stays.
    assert '<strong class="prediction">no</strong>' in answer
    assert "<td>yes</td>" in probabilities and "<td>no</td>" in probabilities
    assert "data-figure=" in answer and 'src="/vendor/plotly.min.js' in page
    sent = {"tenure": 50, "plan": "basic", "signed_up": "2023-05-04", "monthly": None}
    curl = page.split('id="snippet-curl">')[1].split("</pre>")[0]
    assert escape(json.dumps({"inputs": [sent], "explain": False})) in curl
    python = page.split('id="snippet-python">')[1].split("</pre>")[0]
    assert escape(f"predict({deployment.id}, {[sent]!r})") in python
    # The API answers the request of the snippet the same.
    api = client.post(
        f"/api/v1/deployments/{deployment.id}/predict/",
        {"inputs": [sent]},
        content_type="application/json",
    ).json()
    assert api["predictions"] == ["no"] and api["classes"] == ["no", "yes"]


def test_explain_and_bad_values_named_beside_their_field(alice, churn):
    version, deployment = churn
    client = browser_for(alice)
    form = {"feature-tenure": "3", "feature-plan": "pro", "feature-signed_up": "2023-01-01"}
    page = client.post(
        f"/deployments/{deployment.id}/", {**form, "feature-monthly": "25", "explain": "on"}
    ).content.decode()
    explanation = page.split('aria-label="explanation"')[1].split("</table>")[0]
    assert all(f"<td>{name}</td>" in explanation for name in ("tenure", "plan", "monthly"))
    assert "&quot;explain&quot;: true" in page  # the snippet asks for it too
    response = client.post(f"/deployments/{deployment.id}/", {**form, "feature-monthly": "lots"})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="feature-monthly-error">monthly: &#x27;lots&#x27; is not a number' in page
    assert 'value="lots"' in page  # what the user typed stays


def test_a_model_without_feature_names_keeps_the_json_box(alice, tmp_path, model_store):
    from tests.support.factories import FEATURES

    version = register(alice, forest_dir(tmp_path / "v"), name="iris")
    version.features = None
    version.save(update_fields=["features"])
    deployment = create_deployment(
        alice, name="bare", model_name="iris", routes=[{"version": version.id, "weight": 1}]
    )
    page = browser_for(alice).get(f"/deployments/{deployment.id}/").content.decode()
    assert 'id="feature-' not in page and 'name="inputs"' in page
    assert FEATURES[0] not in page.split('id="inputs"')[1].split("</textarea>")[0]


def wait_until_cached(version_id: int, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while version_id not in model_cache() and time.monotonic() < deadline:
        time.sleep(0.02)
    return version_id in model_cache()


def test_deploying_and_rerouting_warm_the_models(
    alice, tmp_path, model_store, django_capture_on_commit_callbacks
):
    v1 = register(alice, forest_dir(tmp_path / "1"), name="iris")
    v2 = register(alice, forest_dir(tmp_path / "2", seed=1), name="iris")
    with django_capture_on_commit_callbacks(execute=True):
        deployment = create_deployment(
            alice, name="warm", model_name="iris", routes=[{"version": v1.id, "weight": 1}]
        )
    assert wait_until_cached(v1.id) and v2.id not in model_cache()
    loads = model_cache().loads
    with django_capture_on_commit_callbacks(execute=True):
        set_traffic(deployment, [{"version": v1.id, "weight": 1}], shadow=v2.id)
    assert wait_until_cached(v2.id)
    assert model_cache().loads == loads + 1  # v1 was warm already: not read again


def test_rows_of_a_built_in_data_set_fill_the_form(alice, iris, model_store):
    from automl.registry.models import ModelVersion
    from workers.data.builtin import load_builtin

    job = run_hpo(alice, iris, name="iris", model="random_forest", n_trials=1)
    version = ModelVersion.objects.get(job=job)
    deployment = create_deployment(
        alice,
        name="iris-live",
        model_name=version.name,
        routes=[{"version": version.id, "weight": 1}],
    )
    data = load_builtin("iris")
    page = browser_for(alice).get(f"/deployments/{deployment.id}/?row=7").content.decode()
    for name, value in zip(version.features, data.X[7], strict=True):
        assert f'value="{value}"' in field_html(page, name)
    labels = version.spec.get("class_labels")  # the answers' names of the classes, if any
    assert f"<strong>{labels[data.y[7]] if labels else data.y[7]}</strong>" in page
