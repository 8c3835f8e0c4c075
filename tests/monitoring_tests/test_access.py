"""Every monitoring endpoint and page refuses anyone but staff; the feedback endpoint
refuses anyone but the deployment's owner."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automl.monitoring.urls import api_urls, page_urls
from tests.support.api import browser_for

pytestmark = pytest.mark.django_db


def paths(patterns, prefix: str, deployment_id: int, report_id: int) -> list[tuple[str, str]]:
    out = []
    for pattern in patterns:
        route = str(pattern.pattern).replace(
            "<int:pk>", str(report_id if "drift/" in str(pattern.pattern) else deployment_id)
        )
        method = "post" if route.endswith("run/") else "get"
        out.append((method, prefix + route))
        if route == "drift/":
            out.append(("post", prefix + route))
    return out


@pytest.fixture
def report(alice_api, staff_api, deployment):
    from tests.support.traffic import traffic

    traffic(alice_api, deployment, seed=0, n=100)
    return staff_api.post(
        "/api/v1/monitoring/drift/", {"deployment": deployment.id}, format="json"
    ).json()["id"]


def test_every_api_endpoint_refuses_non_staff(alice, alice_api, staff_api, deployment, report):
    endpoints = paths(api_urls, "/api/v1/monitoring/", deployment.id, report)
    assert len(endpoints) == len(api_urls) + 1
    for method, path in endpoints:
        body = {"deployment": deployment.id}
        anonymous = getattr(APIClient(), method)(path, body, format="json")
        assert anonymous.status_code == 401, (path, anonymous.status_code)
        refused = getattr(alice_api, method)(path, body, format="json")
        assert refused.status_code == 403, (path, refused.status_code)
        assert refused.json()["error"] == "permission_denied"
        # a session without staff rights too
        session = getattr(browser_for(alice), method)(path, body, content_type="application/json")
        assert session.status_code == 403, (path, session.status_code)
        allowed = getattr(staff_api, method)(path, body, format="json")
        assert allowed.status_code in (200, 201), (path, allowed.content)


def test_every_page_refuses_non_staff(alice, staff, deployment, report):
    pages = paths(page_urls, "/monitoring/", deployment.id, report)
    pages = [(m, p.replace(f"/{report}/", f"/{deployment.id}/")) for m, p in pages]
    assert len(pages) == len(page_urls)
    for method, path in pages:
        anonymous = getattr(browser_for(), method)(path)
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], path
        assert getattr(browser_for(alice), method)(path).status_code == 404, path
        allowed = getattr(browser_for(staff), method)(path)
        assert allowed.status_code in (200, 302), (path, allowed.status_code)
        if method == "get":
            assert allowed.status_code == 200


def test_metrics_needs_the_token_or_staff(alice, staff, settings):
    assert browser_for().get("/metrics").status_code == 401
    assert browser_for(alice).get("/metrics").status_code == 403
    assert browser_for().get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 401
    settings.METRICS_TOKEN = "scrape-me"
    assert browser_for().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert browser_for(alice).get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert browser_for().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert browser_for(staff).get("/metrics").status_code == 200
    for user, expected in ((staff, 200), (alice, 403)):
        key = Token.objects.create(user=user).key
        response = browser_for().get("/metrics", HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == expected


def test_feedback_is_the_owner_s_alone(alice_api, bob_api, staff_api, deployment):
    from automl.serving.models import PredictionLog
    from tests.support.traffic import traffic

    traffic(alice_api, deployment, seed=0, n=10)
    log = PredictionLog.objects.get()
    body = {"feedback": [{"prediction": log.id, "row": 0, "label": 1}]}
    url = f"/api/v1/deployments/{deployment.id}/feedback/"
    assert bob_api.post(url, body, format="json").status_code == 404
    assert staff_api.post(url, body, format="json").status_code == 404
    assert APIClient().post(url, body, format="json").status_code == 401
    assert alice_api.post(url, body, format="json").status_code == 201
