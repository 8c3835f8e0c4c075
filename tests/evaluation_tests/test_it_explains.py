"""POST /api/v1/deployments/{id}/predict/ with "explain": true: per-feature attributions,
checked against a direct occlusion with the model and its saved training means."""

import json

import numpy as np
import pytest

from automl.registry.storage import get_storage
from tests.support.factories import run_hpo
from workers.models.artifacts import load_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployed(alice, alice_api, iris, model_store):
    job = run_hpo(alice, iris, model="logistic_regression")
    version_id = job.result["refit"]["model_version"]
    deployment = alice_api.post(
        "/api/v1/deployments/",
        {
            "name": "iris-live",
            "model_name": "iris-model",
            "routes": [{"version": version_id, "weight": 1}],
        },
        format="json",
    ).json()
    return deployment, version_id


def test_each_row_gets_occlusion_attributions(alice_api, deployed):
    deployment, version_id = deployed
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    response = alice_api.post(
        f"/api/v1/deployments/{deployment['id']}/predict/",
        {"inputs": rows, "explain": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    explanations = body["explanations"]
    assert explanations["method"] == "occlusion"
    from automl.registry.models import ModelVersion

    version = ModelVersion.objects.get(id=version_id)
    directory = get_storage().local_dir(version.storage_key)
    model = load_model(directory)
    reference = json.loads((directory / "reference.json").read_text())
    baseline = [reference["features"][f]["mean"] for f in version.features]
    X = np.asarray(rows)
    proba = model.predict_proba(X)
    for i, row in enumerate(explanations["rows"]):
        k = int(proba[i].argmax())
        assert row["prediction"] == body["predictions"][i]
        assert row["output"] == pytest.approx(proba[i, k])
        for j, name in enumerate(version.features):
            occluded = X[i].copy()
            occluded[j] = baseline[j]
            expected = proba[i, k] - model.predict_proba(occluded[None])[0, k]
            assert row["attributions"][name] == pytest.approx(expected)


def test_explain_is_optional_and_checked(alice_api, bob_api, deployed):
    deployment, _ = deployed
    url = f"/api/v1/deployments/{deployment['id']}/predict/"
    plain = alice_api.post(url, {"inputs": [[5.1, 3.5, 1.4, 0.2]]}, format="json").json()
    assert "explanations" not in plain
    bad = alice_api.post(
        url, {"inputs": [[5.1, 3.5, 1.4, 0.2]], "explain": "maybe"}, format="json"
    )
    assert bad.status_code == 400 and "explain" in bad.json()["fields"]
    many = alice_api.post(
        url, {"inputs": [[5.1, 3.5, 1.4, 0.2]] * 101, "explain": True}, format="json"
    )
    assert many.status_code == 400 and "at most 100" in many.json()["detail"]
    assert (
        bob_api.post(
            url, {"inputs": [[5.1, 3.5, 1.4, 0.2]], "explain": True}, format="json"
        ).status_code
        == 404
    )
