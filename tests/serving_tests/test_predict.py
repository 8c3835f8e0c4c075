"""Deployments over REST: traffic rules, predict, the split, shadow, rollback, cache, log."""

import json
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from automl.serving import logs, traffic
from automl.serving import predict as serve
from automl.serving.loader import ModelCache, model_cache
from automl.serving.models import Deployment, PredictionLog
from tests.support.factories import FEATURES, forest_dir, iris_xy, mlp_dir, register, rows
from workers.models.artifacts import load_model, load_transformer

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(alice, tmp_path, model_store):
    """Two versions of one name: a forest and a scaled logistic regression."""
    return (
        register(alice, forest_dir(tmp_path / "v1"), name="iris"),
        register(alice, forest_dir(tmp_path / "v2", preprocessing=True), name="iris"),
    )


def deploy(api, routes, shadow=None, name="iris-live", **extra):
    body = {"name": name, "model_name": "iris", "routes": routes, "shadow": shadow, **extra}
    return api.post("/api/v1/deployments/", body, format="json")


def predict(api, deployment_id, inputs, **extra):
    return api.post(
        f"/api/v1/deployments/{deployment_id}/predict/", {"inputs": inputs, **extra}, format="json"
    )


def in_process(version, model_store, X):
    directory = model_store / version.storage_key
    model = load_model(directory)
    if version.has_preprocessing:
        X = load_transformer(directory).transform(X)
    return model.predict(X).tolist(), model.predict_proba(X).tolist()


def test_create_refuses_bad_traffic_naming_the_field(alice_api, alice, bob, versions, tmp_path):
    v1, v2 = versions
    bobs = register(bob, forest_dir(tmp_path / "b"), name="iris")
    other_name = register(alice, forest_dir(tmp_path / "o"), name="other")
    cases = [
        ([], None, "routes"),
        ([{"version": v1.id, "weight": 0}], None, "routes.0.weight"),
        ([{"version": v1.id, "weight": "90"}], None, "routes.0.weight"),
        ([{"version": bobs.id, "weight": 1}], None, "routes.0.version"),
        ([{"version": other_name.id, "weight": 1}], None, "routes.0.version"),
        ([{"version": v1.id, "weight": 1, "colour": "red"}], None, "routes.0"),
        ([{"version": v1.id, "weight": 1}, {"version": v1.id, "weight": 1}], None, "routes"),
        ([{"version": v1.id, "weight": 1}], v1.id, "shadow"),
        ([{"version": v1.id, "weight": 1}], "v2", "shadow"),
    ]
    for routes, shadow, field in cases:
        response = deploy(alice_api, routes, shadow)
        assert response.status_code == 400, (routes, response.json())
        assert field in response.json()["fields"], (routes, response.json())
    from automl.registry.services import set_stage

    set_stage(v2, "archived")
    response = deploy(alice_api, [{"version": v2.id, "weight": 1}])
    assert response.status_code == 400 and "archived" in response.json()["detail"]
    assert not Deployment.objects.exists()


def test_deployment_names_are_unique_per_owner(alice_api, versions):
    assert deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).status_code == 201
    response = deploy(alice_api, [{"version": versions[0].id, "weight": 1}])
    assert response.status_code == 400 and "name" in response.json()["fields"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"routes": []}),
        ("delete", "", None),
        ("post", "rollback/", None),
        ("post", "predict/", {"inputs": [[1, 2, 3, 4]]}),
        ("get", "predictions/", None),
    ],
)
def test_another_users_deployment_is_a_404(alice_api, bob_api, versions, method, suffix, body):
    deployment = deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).json()
    url = f"/api/v1/deployments/{deployment['id']}/{suffix}"
    response = getattr(bob_api, method)(url, body, format="json")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert Deployment.objects.filter(id=deployment["id"]).exists()
    assert not PredictionLog.objects.exists()


@pytest.mark.parametrize("which", [0, 1], ids=["forest", "with_preprocessing"])
def test_predictions_equal_the_in_process_models(alice_api, versions, model_store, which):
    version = versions[which]
    deployment = deploy(alice_api, [{"version": version.id, "weight": 1}], cache_ttl_s=0).json()
    X, _ = iris_xy()
    X = X[::7]
    labels, probabilities = in_process(version, model_store, X)

    named = predict(alice_api, deployment["id"], rows(X))
    arrays = predict(alice_api, deployment["id"], X.tolist())

    for response in (named, arrays):
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["predictions"] == labels
        assert body["probabilities"] == probabilities
        assert body["classes"] == [0, 1, 2]
        assert (body["version"], body["deployment"]) == (version.id, deployment["id"])


def test_a_torch_model_is_served_like_in_process(alice_api, alice, tmp_path, model_store):
    version = register(alice, mlp_dir(tmp_path / "m"), name="iris")
    deployment = deploy(alice_api, [{"version": version.id, "weight": 1}]).json()
    X, _ = iris_xy()
    model = load_model(model_store / version.storage_key)
    body = predict(alice_api, deployment["id"], rows(X[:20])).json()
    assert body["predictions"] == model.predict(X[:20]).tolist()
    assert body["probabilities"] == model.predict_proba(X[:20]).tolist()


def test_rows_with_missing_or_extra_features_are_refused_by_name(alice_api, versions):
    deployment = deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).json()
    good = dict.fromkeys(FEATURES, 1.0)
    missing = {k: v for k, v in good.items() if k != "petal_width"}
    extra = {**good, "colour": 3}
    response = predict(alice_api, deployment["id"], [good, missing, extra])
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields == {
        "inputs.1": ["missing features: petal_width"],
        "inputs.2": ["unknown features: colour"],
    }
    assert "petal_width" in response.json()["detail"] and "colour" in response.json()["detail"]


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        (None, "inputs"),
        ([], "inputs"),
        ("1,2,3,4", "inputs"),
        ([[1, 2, 3]], "inputs.0"),
        ([[1, 2, 3, "x"]], "inputs.0.3"),
        ([{**dict.fromkeys(FEATURES, 1.0), "sepal_width": "wide"}], "inputs.0.sepal_width"),
        ([[1, 2, 3, 4], {"sepal_length": 1}], "inputs.1"),
        ([[1, 2, 3, True]], "inputs.0.3"),
    ],
)
def test_bad_inputs_are_400s_naming_the_field(alice_api, versions, inputs, field):
    deployment = deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).json()
    response = predict(alice_api, deployment["id"], inputs)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()
    assert not PredictionLog.objects.exists()


def test_too_many_rows_are_refused(alice_api, versions, settings):
    settings.SERVING_MAX_ROWS = 3
    deployment = deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).json()
    response = predict(alice_api, deployment["id"], [[1, 2, 3, 4]] * 4)
    assert response.status_code == 400 and "inputs" in response.json()["fields"]


def test_a_90_10_split_holds_over_many_requests(alice_api, versions):
    v1, v2 = versions
    deployment = deploy(
        alice_api, [{"version": v1.id, "weight": 90}, {"version": v2.id, "weight": 10}]
    ).json()
    n = 400
    counts = Counter(
        predict(alice_api, deployment["id"], [[5.1, 3.5, 1.4, 0.2]]).json()["version"]
        for _ in range(n)
    )
    # Binomial(400, 0.1): mean 40, sd 6; 4 sd either side fails once in ~30,000 runs.
    assert set(counts) == {v1.id, v2.id}
    assert 16 <= counts[v2.id] <= 64, counts


def test_a_seeded_request_always_goes_to_the_same_version(versions):
    v1, v2 = versions
    routes = [{"version": v1.id, "weight": 50}, {"version": v2.id, "weight": 50}]
    import random

    for seed in range(20):
        picks = {traffic.choose_version(routes, random.Random(seed)) for _ in range(5)}
        assert len(picks) == 1
    picks = Counter(traffic.choose_version(routes, random.Random(seed)) for seed in range(2000))
    assert 900 <= picks[v1.id] <= 1100


def test_rollback_restores_the_previous_split(alice_api, versions):
    v1, v2 = versions
    deployment = deploy(alice_api, [{"version": v1.id, "weight": 1}]).json()
    url = f"/api/v1/deployments/{deployment['id']}/"
    assert alice_api.post(url + "rollback/").status_code == 409  # nothing to go back to

    canary = [{"version": v1.id, "weight": 90}, {"version": v2.id, "weight": 10}]
    response = alice_api.patch(url, {"routes": canary}, format="json")
    assert response.status_code == 200
    response = alice_api.patch(url, {"routes": [{"version": v2.id, "weight": 1}]}, format="json")
    assert response.json()["routes"] == [{"version": v2.id, "weight": 1.0}]

    response = alice_api.post(url + "rollback/")
    assert response.status_code == 200
    assert response.json()["routes"] == [
        {"version": v1.id, "weight": 90.0},
        {"version": v2.id, "weight": 10.0},
    ]
    response = alice_api.post(url + "rollback/")
    assert response.json()["routes"] == [{"version": v1.id, "weight": 1.0}]
    assert response.json()["history"] == []
    body = predict(alice_api, deployment["id"], [[5.1, 3.5, 1.4, 0.2]]).json()
    assert body["version"] == v1.id


def test_a_shadow_answers_into_the_log_only(alice_api, versions, model_store):
    v1, v2 = versions
    deployment = deploy(alice_api, [{"version": v1.id, "weight": 1}], shadow=v2.id).json()
    X, _ = iris_xy()
    body = predict(alice_api, deployment["id"], X[:3].tolist()).json()
    assert body["version"] == v1.id
    log = PredictionLog.objects.get()
    assert (log.version_id, log.shadow_version_id) == (v1.id, v2.id)
    assert log.shadow_outputs["predictions"] == in_process(v2, model_store, X[:3])[0]
    assert log.outputs["predictions"] == body["predictions"]


def test_answers_are_cached_by_version_and_input(alice_api, versions):
    deployment = deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).json()
    first = predict(alice_api, deployment["id"], [[5.1, 3.5, 1.4, 0.2]]).json()
    again = predict(alice_api, deployment["id"], [[5.1, 3.5, 1.4, 0.2]]).json()
    other = predict(alice_api, deployment["id"], [[6.1, 3.5, 1.4, 0.2]]).json()
    assert (first["cached"], again["cached"], other["cached"]) == (False, True, False)
    assert again["predictions"] == first["predictions"]
    assert PredictionLog.objects.filter(cached=True).count() == 1


def test_a_model_is_loaded_once_per_process(alice_api, versions):
    deployment = deploy(
        alice_api, [{"version": versions[0].id, "weight": 1}], cache_ttl_s=0
    ).json()
    loads = model_cache().loads
    for i in range(5):
        assert predict(alice_api, deployment["id"], [[5.0 + i, 3, 1, 0]]).status_code == 200
    assert model_cache().loads == loads + 1


def test_the_model_cache_is_a_bounded_lru(versions):
    v1, v2 = versions
    cache = ModelCache(max_size=1)
    first = cache.get(v1)
    assert cache.get(v1) is first and cache.loads == 1
    cache.get(v2)
    assert v1.id not in cache and v2.id in cache
    cache.get(v1)
    assert cache.loads == 3


def test_the_log_keeps_a_bounded_part_of_each_request(alice_api, versions, settings):
    settings.SERVING_LOG_MAX_ROWS = 2
    deployment = deploy(alice_api, [{"version": versions[0].id, "weight": 1}]).json()
    X, _ = iris_xy()
    predict(alice_api, deployment["id"], X[:5].tolist())
    log = PredictionLog.objects.get()
    assert log.n_rows == 5 and len(log.inputs) == 2 and len(log.outputs["predictions"]) == 2
    assert log.inputs == X[:2].tolist() and log.latency_ms > 0
    response = alice_api.get(f"/api/v1/deployments/{deployment['id']}/predictions/")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_retention_drops_old_and_surplus_log_rows(alice, versions, settings):
    settings.SERVING_LOG_RETENTION_DAYS = 7
    settings.SERVING_LOG_MAX_ENTRIES = 3
    deployment = traffic.create_deployment(
        alice, name="d", model_name="iris", routes=[{"version": versions[0].id, "weight": 1}]
    )
    for i in range(6):
        serve.predict(deployment, [[5.0 + i, 3, 1, 0]])
    old = PredictionLog.objects.order_by("id").first()
    PredictionLog.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=8))

    assert logs.prune_prediction_logs() == 3
    kept = list(PredictionLog.objects.order_by("id").values_list("n_rows", "inputs"))
    assert [inputs[0][0] for _, inputs in kept] == [8.0, 9.0, 10.0]


def test_missing_values_are_sent_as_null(alice_api, alice, tmp_path, model_store):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from workers.models.artifacts import save_model

    X, y = iris_xy()
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    save_model(
        model,
        tmp_path / "hgb",
        family="hgb",
        spec={"task": "classification", "features": FEATURES},
    )
    version = register(alice, tmp_path / "hgb", name="iris")
    deployment = deploy(alice_api, [{"version": version.id, "weight": 1}]).json()
    response = predict(alice_api, deployment["id"], [[5.1, None, 1.4, 0.2]])
    assert response.status_code == 200, response.json()
    expected = model.predict(np.array([[5.1, np.nan, 1.4, 0.2]])).tolist()
    assert response.json()["predictions"] == expected
    assert PredictionLog.objects.get().inputs == [[5.1, None, 1.4, 0.2]]


def test_null_is_a_missing_value_for_a_torch_model_too(alice_api, alice, tmp_path, model_store):
    version = register(alice, mlp_dir(tmp_path / "m"), name="iris")
    deployment = deploy(alice_api, [{"version": version.id, "weight": 1}]).json()
    X, _ = iris_xy()
    mean = load_model(model_store / version.storage_key).spec["input_mean"]
    missing = [None, *X[0, 1:].tolist()]
    filled = [mean[0], *X[0, 1:].tolist()]
    response = predict(alice_api, deployment["id"], [missing, filled])
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["predictions"][0] == answer["predictions"][1]
    assert answer["probabilities"][0] == answer["probabilities"][1]


def test_a_non_finite_answer_is_an_error_naming_the_rows_never_logged(
    alice_api, alice, tmp_path, model_store
):
    version = register(alice, mlp_dir(tmp_path / "m"), name="iris")
    deployment = deploy(alice_api, [{"version": version.id, "weight": 1}]).json()
    X, _ = iris_xy()
    huge = [1e308, *X[0, 1:].tolist()]  # standardised, it is infinite: so is the answer
    response = predict(alice_api, deployment["id"], [X[0].tolist(), huge])
    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == ["inputs.1"]
    assert "not a finite number" in response.json()["detail"]
    assert not PredictionLog.objects.exists()


def test_numbers_and_text_the_log_cannot_hold_are_refused_by_name(alice_api, versions):
    deployment = deploy(alice_api, [{"version": versions[1].id, "weight": 1}]).json()
    good = dict.fromkeys(FEATURES, 1.0)
    cases = [
        ({**good, "petal_width": 10**400}, "a finite number"),  # no float holds it
        ({**good, "petal_width": "a\u0000b"}, "text"),
        ({**good, "petal_width": "\ud800"}, "text"),  # a lone surrogate
    ]
    for row, needed in cases:
        body = json.dumps({"inputs": [good, row]})  # ASCII: "\ud800" stays an escape
        url = f"/api/v1/deployments/{deployment['id']}/predict/"
        response = alice_api.post(url, body, content_type="application/json")
        assert response.status_code == 400, (row, response.content)
        assert needed in response.json()["fields"]["inputs.1.petal_width"][0]
    assert not PredictionLog.objects.exists()


def test_an_image_may_come_as_uploaded_or_as_a_flat_row():
    # An .npz of 8 x 8 images trains a model that takes 64 pixels: a client may send each
    # image as it was uploaded (nested arrays) or flat, and gets the same rows.
    from automl.errors import Invalid
    from automl.serving.inputs import parse_inputs

    image = [[float(r * 8 + c) for c in range(8)] for r in range(8)]
    flat = [v for line in image for v in line]
    nested = parse_inputs([image, [image]], None, 64, allow_text=False)
    assert nested.tolist() == [flat, flat]
    assert parse_inputs([flat], None, 64, allow_text=False).tolist() == [flat]
    with pytest.raises(Invalid, match="has 8 values; the model takes 64"):
        parse_inputs([image[0]], None, 64, allow_text=False)
