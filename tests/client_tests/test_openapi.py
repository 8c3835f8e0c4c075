"""The OpenAPI schema is one that client generators accept: one media type per request
body (JSON, multipart only for uploads), typed answers, the health and metrics endpoints."""

import io

import pytest
import yaml
from django.core.management import call_command

UPLOADS = {
    "/api/v1/datasets/",
    "/api/v1/models/import/",
    "/api/v1/jobs/{id}/trials/{number}/files/",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    out = io.StringIO()
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_request_body_has_one_media_type(schema):
    bodies = {
        (path, method): list(op["requestBody"]["content"])
        for path, method, op in operations(schema)
        if "requestBody" in op
    }
    assert ("/api/v1/jobs/", "post") in bodies
    for (path, method), media in bodies.items():
        expected = "multipart/form-data" if path in UPLOADS else "application/json"
        assert media == [expected], (method, path)


def test_the_predict_answer_is_typed(schema):
    answer = schema["paths"]["/api/v1/deployments/{id}/predict/"]["post"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = schema["components"]["schemas"][ref]["properties"]
    assert {"predictions", "probabilities", "classes", "version", "cached"} <= set(fields)


def test_health_readiness_and_metrics_are_documented(schema):
    assert schema["paths"]["/healthz"]["get"]["security"] == []
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]
    metrics = schema["paths"]["/metrics"]["get"]
    assert "text/plain" in metrics["responses"]["200"]["content"]
    assert "metricsToken" in schema["components"]["securitySchemes"]


def test_a_json_endpoint_refuses_a_form_and_the_token_endpoint_takes_one(alice, alice_api, client):
    form = alice_api.post("/api/v1/jobs/", {"kind": "hpo"}, format="multipart")
    assert form.status_code == 415
    assert form.json()["error"] == "unsupported_media_type"
    token = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "alice-password-1"}
    )
    assert token.status_code == 200 and token.json()["token"]
