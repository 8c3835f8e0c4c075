"""Dynamic batching: concurrent requests share a model call, each gets exactly its answer."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automl.serving import batching, traffic
from automl.serving.loader import model_cache
from automl.serving.models import Deployment, PredictionLog
from tests.support.factories import forest_dir, iris_xy, mlp_dir, register, rows

pytestmark = pytest.mark.django_db

CONCURRENCY = 8
# Long enough that eight released threads meet in one batch; the tests never time anything.
SETTING = {"max_batch_rows": 64, "max_wait_ms": 100.0}


def requests_of_iris(n: int) -> list[np.ndarray]:
    """n requests of 1 to 4 rows each, drawn across the classes."""
    X, _ = iris_xy()
    order = np.random.default_rng(0).permutation(len(X))
    return [X[order[i * 4 : i * 4 + 1 + i % 4]] for i in range(n)]


def concurrently(call, items: list) -> list:
    """call(item) for every item, CONCURRENCY threads released together."""
    start = threading.Barrier(CONCURRENCY)

    def run(chunk: list) -> list:
        start.wait()
        return [call(item) for item in chunk]

    chunks = [items[k::CONCURRENCY] for k in range(CONCURRENCY)]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = list(pool.map(run, chunks))
    out = [None] * len(items)
    for k, chunk in enumerate(answers):
        out[k::CONCURRENCY] = chunk
    return out


def assert_same_answers(batched: list[dict], alone: list[dict]) -> None:
    assert len(batched) == len(alone)
    for got, want in zip(batched, alone, strict=True):
        assert set(got) == set(want)
        assert got["predictions"] == want["predictions"]
        assert got.get("classes") == want.get("classes")
        if "probabilities" in want:
            assert np.allclose(got["probabilities"], want["probabilities"], rtol=1e-6, atol=1e-9)


@pytest.fixture
def version_of(alice, tmp_path, model_store):
    def make(kind: str):
        directory = {
            "forest": lambda p: forest_dir(p, n_estimators=10),
            "mlp": mlp_dir,
            "scaled": lambda p: forest_dir(p, preprocessing=True),
        }[kind](tmp_path / kind)
        return register(alice, directory, name="iris")

    return make


@pytest.mark.parametrize("kind", ["forest", "mlp", "scaled"])
def test_concurrent_answers_equal_the_unbatched_ones_row_for_row(version_of, kind):
    model = model_cache().get(version_of(kind))
    requests = requests_of_iris(4 * CONCURRENCY)
    alone = [model.predict(X) for X in requests]
    batched = concurrently(lambda X: batching.predict(model, model.prepare(X), SETTING), requests)
    assert_same_answers(batched, alone)


def test_a_batch_really_forms_under_concurrency(version_of, monkeypatch):
    model = model_cache().get(version_of("forest"))
    calls = []
    proba = model.model.predict_proba
    monkeypatch.setattr(model.model, "predict_proba", lambda X: calls.append(len(X)) or proba(X))
    requests = requests_of_iris(4 * CONCURRENCY)
    concurrently(lambda X: batching.predict(model, model.prepare(X), SETTING), requests)
    assert sum(calls) == sum(len(X) for X in requests)
    assert len(calls) < len(requests)
    assert max(calls) <= SETTING["max_batch_rows"]


def test_a_batch_never_takes_more_rows_than_its_limit(version_of, monkeypatch):
    model = model_cache().get(version_of("forest"))
    calls = []
    proba = model.model.predict_proba
    monkeypatch.setattr(model.model, "predict_proba", lambda X: calls.append(len(X)) or proba(X))
    requests = requests_of_iris(4 * CONCURRENCY)
    alone = [model.predict(X) for X in requests]
    calls.clear()
    setting = {"max_batch_rows": 5, "max_wait_ms": 100.0}
    batched = concurrently(lambda X: batching.predict(model, model.prepare(X), setting), requests)
    assert_same_answers(batched, alone)
    assert max(calls) <= 5 and sum(calls) == sum(len(X) for X in requests)


def test_rows_the_model_refuses_fail_only_their_own_request(version_of):
    # The logistic regression refuses a missing value (the scaler passes it through), so
    # the refusal comes from the batched model call itself.
    model = model_cache().get(version_of("scaled"))
    requests = requests_of_iris(2 * CONCURRENCY)
    bad = requests[3].copy()
    bad[0, 1] = np.nan
    requests[3] = bad
    alone = [model.predict(X) for i, X in enumerate(requests) if i != 3]

    def call(X):
        try:
            return batching.predict(model, model.prepare(X), SETTING)
        except ValueError as exc:
            return exc

    answers = concurrently(call, requests)
    assert isinstance(answers[3], ValueError) and "NaN" in str(answers[3])
    assert_same_answers([a for i, a in enumerate(answers) if i != 3], alone)


def test_a_model_failure_fails_every_request_of_the_batch_with_the_same_error(
    version_of, monkeypatch
):
    model = model_cache().get(version_of("forest"))
    monkeypatch.setattr(
        model, "answer", lambda X: (_ for _ in ()).throw(RuntimeError("out of memory"))
    )

    def call(X):
        try:
            return batching.predict(model, model.prepare(X), SETTING)
        except RuntimeError as exc:
            return str(exc)

    assert concurrently(call, requests_of_iris(CONCURRENCY)) == ["out of memory"] * CONCURRENCY


def deploy(api, version, **extra):
    return api.post(
        "/api/v1/deployments/",
        {
            "name": "live",
            "model_name": "iris",
            "routes": [{"version": version.id, "weight": 1}],
            **extra,
        },
        format="json",
    )


def test_batching_is_off_by_default(alice_api, version_of, monkeypatch):
    version = version_of("forest")
    response = deploy(alice_api, version)
    assert response.status_code == 201 and response.json()["batching"] is None

    def no_batcher(*args):
        raise AssertionError("a deployment without batching reached the batcher")

    monkeypatch.setattr(batching, "predict", no_batcher)
    X, _ = iris_xy()
    answer = alice_api.post(
        f"/api/v1/deployments/{response.json()['id']}/predict/",
        {"inputs": rows(X[:3])},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["predictions"] == model_cache().get(version).predict(X[:3])["predictions"]


BAD_SETTINGS = [
    ("on", "batching"),
    ([64, 2], "batching"),
    ({"max_batch_rows": 64}, "batching.max_wait_ms"),
    ({"max_wait_ms": 2}, "batching.max_batch_rows"),
    ({"max_batch_rows": 1, "max_wait_ms": 2}, "batching.max_batch_rows"),
    ({"max_batch_rows": 64.5, "max_wait_ms": 2}, "batching.max_batch_rows"),
    ({"max_batch_rows": True, "max_wait_ms": 2}, "batching.max_batch_rows"),
    ({"max_batch_rows": 10_001, "max_wait_ms": 2}, "batching.max_batch_rows"),
    ({"max_batch_rows": 64, "max_wait_ms": -1}, "batching.max_wait_ms"),
    ({"max_batch_rows": 64, "max_wait_ms": 101}, "batching.max_wait_ms"),
    ({"max_batch_rows": 64, "max_wait_ms": "2"}, "batching.max_wait_ms"),
    ({"max_batch_rows": 64, "max_wait_ms": 10**400}, "batching.max_wait_ms"),
    ({"max_batch_rows": 64, "max_wait_ms": 2, "max_queue": 9}, "batching"),
]


def test_the_api_sets_batching_and_refuses_bad_settings_naming_the_key(alice_api, version_of):
    version = version_of("forest")
    for value, field in BAD_SETTINGS:
        response = deploy(alice_api, version, batching=value)
        assert response.status_code == 400, (value, response.json())
        assert field in response.json()["fields"], (value, response.json())
    assert not Deployment.objects.exists()

    response = deploy(alice_api, version, batching={"max_batch_rows": 32, "max_wait_ms": 3})
    assert response.status_code == 201
    assert response.json()["batching"] == {"max_batch_rows": 32, "max_wait_ms": 3.0}
    url = f"/api/v1/deployments/{response.json()['id']}/"
    for value, field in BAD_SETTINGS:
        response = alice_api.patch(url, {"batching": value}, format="json")
        assert response.status_code == 400 and field in response.json()["fields"], value
    # A bad setting leaves the traffic sent with it unchanged too.
    response = alice_api.patch(
        url,
        {"routes": [{"version": version.id, "weight": 2}], "batching": {"max_batch_rows": 0}},
        format="json",
    )
    assert response.status_code == 400
    deployment = Deployment.objects.get()
    assert deployment.routes == [{"version": version.id, "weight": 1.0}]
    assert deployment.batching == {"max_batch_rows": 32, "max_wait_ms": 3.0}
    # Batching alone changes neither the traffic nor its rollback history; null turns it off.
    response = alice_api.patch(
        url, {"batching": {"max_batch_rows": 8, "max_wait_ms": 0}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["batching"] == {"max_batch_rows": 8, "max_wait_ms": 0.0}
    assert response.json()["routes"] == deployment.routes and response.json()["history"] == []
    assert alice_api.patch(url, {"batching": None}, format="json").json()["batching"] is None


def test_another_users_deployment_stays_404(alice, bob_api, version_of):
    deployment = traffic.create_deployment(
        alice,
        name="live",
        model_name="iris",
        routes=[{"version": version_of("forest").id, "weight": 1}],
    )
    response = bob_api.patch(
        f"/api/v1/deployments/{deployment.id}/",
        {"batching": {"max_batch_rows": 8, "max_wait_ms": 1}},
        format="json",
    )
    assert response.status_code == 404
    deployment.refresh_from_db()
    assert deployment.batching is None


def test_the_deployment_pages_show_and_set_batching(alice, version_of):
    version = version_of("forest")
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/deployments/",
        {"name": "live", "main": version.id, "batch_rows": "16", "batch_wait_ms": "4"},
    )
    deployment = Deployment.objects.get(name="live")
    assert response.status_code == 302
    assert deployment.batching == {"max_batch_rows": 16, "max_wait_ms": 4.0}
    page = client.get(f"/deployments/{deployment.id}/")
    assert b"up to 16 rows" in page.content
    assert page.context["form"].initial["batch_rows"] == 16
    url = f"/deployments/{deployment.id}/traffic/"
    response = client.post(url, {"main": version.id, "batch_rows": "1"})
    assert response.status_code == 400
    assert "from 2 to" in response.context["form"].errors["batch_rows"][0]
    response = client.post(url, {"main": version.id, "batch_rows": ""})
    deployment.refresh_from_db()
    assert response.status_code == 302 and deployment.batching is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("logged", [False, True])
def test_concurrent_rest_requests_are_batched_logged_and_cached_each(
    request, alice, version_of, monkeypatch, logged
):
    if logged:  # SQLite's in-memory test database refuses concurrent writers
        request.getfixturevalue("real_services")
    version = version_of("mlp")
    deployment = traffic.create_deployment(
        alice,
        name="live",
        model_name="iris",
        routes=[{"version": version.id, "weight": 1}],
        batching=SETTING,
        log_predictions=logged,
    )
    model = model_cache().get(version)
    requests = requests_of_iris(2 * CONCURRENCY)
    alone = [model.predict(X) for X in requests]
    calls = []
    answer = model.answer
    monkeypatch.setattr(model, "answer", lambda X: calls.append(len(X)) or answer(X))
    token = Token.objects.create(user=alice).key

    def post(X):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            response = api.post(
                f"/api/v1/deployments/{deployment.id}/predict/", {"inputs": rows(X)}, format="json"
            )
            assert response.status_code == 200, response.json()
            return response.json()
        finally:
            connection.close()

    batched = concurrently(post, requests)
    assert_same_answers([{k: a[k] for k in alone[0]} for a in batched], alone)
    assert all(a["version"] == version.id and a["cached"] is False for a in batched)
    assert len(calls) < len(requests)
    logs = PredictionLog.objects.filter(deployment=deployment)
    assert sorted(log.n_rows for log in logs) == (
        sorted(len(X) for X in requests) if logged else []
    )
    # The result cache is per request: the same rows again are hits, no model call.
    calls.clear()
    again = concurrently(post, requests)
    assert all(a["cached"] for a in again) and calls == []


def test_version_rows_are_read_once_and_a_traffic_change_is_seen_at_once(
    alice_api, version_of, tmp_path
):
    from django.test.utils import CaptureQueriesContext

    v1 = version_of("forest")
    v2 = register(v1.owner, forest_dir(tmp_path / "v2", seed=1), name="iris")
    deployment = deploy(alice_api, v1, cache_ttl_s=0).json()
    url = f"/api/v1/deployments/{deployment['id']}/"
    X, _ = iris_xy()

    def answer():
        with CaptureQueriesContext(connection) as queries:
            response = alice_api.post(url + "predict/", {"inputs": rows(X[:2])}, format="json")
        assert response.status_code == 200, response.json()
        reads = [q for q in queries if "registry_modelversion" in q["sql"]]
        return response.json()["version"], len(reads)

    assert answer() == (v1.id, 1)
    assert answer() == (v1.id, 0)
    assert (
        alice_api.patch(
            url, {"routes": [{"version": v2.id, "weight": 1}]}, format="json"
        ).status_code
        == 200
    )
    assert answer() == (v2.id, 1)
    assert alice_api.post(url + "rollback/").status_code == 200
    assert answer()[0] == v1.id


def test_a_weight_too_large_for_a_float_is_a_400_not_a_500(alice_api, version_of):
    version = version_of("forest")
    response = deploy(alice_api, version)
    response = alice_api.patch(
        f"/api/v1/deployments/{response.json()['id']}/",
        {"routes": [{"version": version.id, "weight": 10**400}]},
        format="json",
    )
    assert response.status_code == 400 and "routes.0.weight" in response.json()["fields"]
