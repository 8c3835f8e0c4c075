"""Every route of the site, table-driven: anonymous callers are refused, another user's
object is a 404 for every method, staff routes refuse everyone else.

A route missing from ROUTES and from PUBLIC fails test_every_route_is_in_the_table, so a
new endpoint cannot land without saying who may call it.
"""

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.support.api import browser_for, client_for
from tests.support.world import SECRET, World

pytestmark = pytest.mark.django_db

# Anyone may call these, and why.
PUBLIC = {
    "healthz": "liveness probe",
    "readyz": "readiness probe",
    "login": "the sign-in form",
    "logout": "POST only; signs out whoever calls it",
    "api-token": "POST takes the credentials (throttled); DELETE needs the token itself",
    "home": "the landing page: links for anyone, a user's own counts once signed in",
    "plotly-js": "the vendored plotly.js file, like any static file",
    "favicon": "a redirect to the static icon",
}


@dataclass
class Route:
    kind: str  # owned (another user's is 404) | mine (the caller's own things) | staff
    obj: str | None = None  # the World field the pk comes from
    methods: tuple[str, ...] = ()  # pages; API views list their own handlers
    args: dict = field(default_factory=dict)  # more URL arguments, "{model}" from the World
    query: str = ""
    pk: bool = True  # False: obj is named in the query, not the path


OWNED, MINE, STAFF = "owned", "mine", "staff"
ROUTES = {
    # API
    "api-schema": Route(MINE),
    "metrics": Route(STAFF),
    "dataset-list": Route(MINE),
    "dataset-detail": Route(OWNED, "dataset"),
    "dataset-rows": Route(OWNED, "dataset"),
    "job-list": Route(MINE),
    "job-detail": Route(OWNED, "job"),
    "job-cancel": Route(OWNED, "job"),
    "job-trials": Route(OWNED, "job"),
    "job-trials-csv": Route(OWNED, "job"),
    "trial-ask": Route(OWNED, "job"),
    "trial-report": Route(OWNED, "job", args={"number": "0"}),
    "trial-heartbeat": Route(OWNED, "job", args={"number": "0"}),
    "trial-tell": Route(OWNED, "job", args={"number": "0"}),
    "job-trials-rerun": Route(OWNED, "job"),
    "job-pause": Route(OWNED, "job"),
    "job-resume": Route(OWNED, "job"),
    "job-extend": Route(OWNED, "job"),
    "job-register-best": Route(OWNED, "job"),
    "trial-log": Route(OWNED, "job", args={"number": "0"}),
    "trial-detail": Route(OWNED, "job", args={"number": "0"}),
    "trial-files": Route(OWNED, "job", args={"number": "0"}),
    "model-list": Route(MINE),
    "model-import": Route(MINE),
    "model-compare": Route(MINE, query="ids={model}"),
    "model-detail": Route(OWNED, "model"),
    "model-stage": Route(OWNED, "model"),
    "model-download": Route(OWNED, "model"),
    "model-bundle": Route(OWNED, "model"),
    "model-triton": Route(OWNED, "model"),
    "model-export": Route(OWNED, "model", args={"fmt": "onnx"}),
    "model-evaluation": Route(OWNED, "model"),
    "model-card": Route(OWNED, "model"),
    "model-evaluation-compare": Route(OWNED, "model", args={"other": "{model}"}),
    "deployment-list": Route(MINE),
    "deployment-detail": Route(OWNED, "deployment"),
    "deployment-rollback": Route(OWNED, "deployment"),
    "deployment-predict": Route(OWNED, "deployment"),
    "deployment-predictions": Route(OWNED, "deployment"),
    "deployment-feedback": Route(OWNED, "deployment"),
    "deployment-policy": Route(OWNED, "deployment"),
    "deployment-policy-check": Route(OWNED, "deployment"),
    "deployment-activity": Route(OWNED, "deployment"),
    "job-leaderboard": Route(OWNED, "job"),
    "job-search-chart": Route(OWNED, "job"),
    "job-retry-stage": Route(OWNED, "job"),
    "model-aliases": Route(OWNED, "model"),
    "model-alias": Route(OWNED, "model", args={"alias": "champion"}),
    "webhook-list": Route(MINE),
    "webhook-detail": Route(OWNED, "webhook"),
    "webhook-deliveries": Route(OWNED, "webhook"),
    "schedule-list": Route(MINE),
    "schedule-detail": Route(OWNED, "schedule"),
    "monitoring-overview": Route(STAFF),
    "monitoring-jobs": Route(STAFF),
    "monitoring-queues": Route(STAFF),
    "monitoring-workers": Route(STAFF),
    "monitoring-alerts": Route(STAFF),
    "monitoring-drift": Route(STAFF),
    "monitoring-drift-detail": Route(STAFF, "report"),
    "monitoring-performance": Route(STAFF, "deployment"),
    # pages
    "api-docs": Route(MINE, methods=("get",)),
    "account-page": Route(MINE, methods=("get",)),
    "account-token-page": Route(MINE, methods=("post",)),
    "account-token-revoke-page": Route(MINE, methods=("post",)),
    "dataset-pages": Route(MINE, methods=("get", "post")),
    "dataset-page": Route(OWNED, "dataset", methods=("get",)),
    "dataset-delete-page": Route(OWNED, "dataset", methods=("post",)),
    "dataset-job-page": Route(OWNED, "dataset", methods=("post",)),
    "job-pages": Route(MINE, methods=("get",)),
    "job-new-page": Route(
        OWNED, "job", ("get",), args={"kind": "hpo"}, query="from={job}", pk=False
    ),
    "job-page": Route(OWNED, "job", methods=("get",)),
    "job-status-page": Route(OWNED, "job", methods=("get",)),
    "job-charts-page": Route(OWNED, "job", methods=("get",)),
    "job-search-chart-page": Route(OWNED, "job", methods=("get",)),
    "trial-drawer-page": Route(OWNED, "job", methods=("get",), args={"number": "0"}),
    "job-cancel-page": Route(OWNED, "job", methods=("post",)),
    "job-rerun-page": Route(OWNED, "job", methods=("post",)),
    "job-register-best-page": Route(OWNED, "job", methods=("post",)),
    "job-control-page": Route(OWNED, "job", methods=("post",), args={"action": "pause"}),
    "trial-page": Route(OWNED, "job", methods=("get",), args={"number": "0"}),
    "trial-curate-page": Route(OWNED, "job", methods=("post",), args={"number": "0"}),
    "job-retry-stage-page": Route(OWNED, "job", methods=("post",)),
    "job-schedule-page": Route(OWNED, "job", methods=("post",)),
    "schedules-page": Route(MINE, methods=("get", "post")),
    "models-page": Route(MINE, methods=("get",)),
    "model-alias-page": Route(OWNED, "model", methods=("post",)),
    "webhooks-page": Route(MINE, methods=("get", "post")),
    "webhook-page": Route(OWNED, "webhook", methods=("get", "post")),
    "model-compare-page": Route(MINE, methods=("get",), query="ids={model}"),
    "model-import-page": Route(MINE, methods=("post",)),
    "model-page": Route(OWNED, "model", methods=("get",)),
    "model-stage-page": Route(OWNED, "model", methods=("post",)),
    "model-evaluate-page": Route(OWNED, "model", methods=("post",)),
    "model-card-page": Route(OWNED, "model", methods=("get",)),
    "deployments-page": Route(MINE, methods=("get",)),
    "deployment-page": Route(OWNED, "deployment", methods=("get", "post")),
    "deployment-rollback-page": Route(OWNED, "deployment", methods=("post",)),
    "deployment-traffic-page": Route(OWNED, "deployment", methods=("post",)),
    "deployment-policy-page": Route(OWNED, "deployment", methods=("post",)),
    "monitoring-page": Route(STAFF, methods=("get",)),
    "monitoring-data": Route(STAFF, methods=("get",)),
    "monitoring-drift-page": Route(STAFF, "deployment", methods=("get",)),
    "monitoring-drift-run": Route(STAFF, "deployment", methods=("post",)),
}


def named_routes() -> dict[str, URLPattern]:
    """Every named route of the site; the admin's are its own (tested below)."""
    found: dict[str, URLPattern] = {}

    def walk(patterns) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace != "admin":
                    walk(entry.url_patterns)
            elif entry.name:
                found[entry.name] = entry

    walk(get_resolver().url_patterns)
    return found


def is_api(name: str, pattern: URLPattern) -> bool:
    """A DRF view; pages (the table gives their methods) may wrap one, as the API docs do."""
    return hasattr(pattern.callback, "cls") and not ROUTES.get(name, Route(MINE)).methods


def methods_of(name: str, pattern: URLPattern) -> tuple[str, ...]:
    if ROUTES.get(name, Route(MINE)).methods:
        return ROUTES[name].methods
    if is_api(name, pattern):
        cls = pattern.callback.cls
        return tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m))
    return ("get",)


def url_of(name: str, world: World) -> str:
    route = ROUTES[name]
    kwargs = {key: value.format(**vars(world)) for key, value in route.args.items()}
    if route.obj and route.pk:
        kwargs["pk"] = getattr(world, route.obj)
    url = reverse(name, kwargs=kwargs)
    if route.query:
        url += "?" + route.query.format(**vars(world))
    return url


def call(client, method: str, url: str, api: bool):
    if api:
        return getattr(client, method)(url, {}, format="json")
    return getattr(client, method)(url)


def test_every_route_is_in_the_table():
    routes = named_routes()
    missing = sorted(set(routes) - set(ROUTES) - set(PUBLIC))
    assert not missing, f"routes with no access rule in ROUTES or PUBLIC: {missing}"
    stale = sorted((set(ROUTES) | set(PUBLIC)) - set(routes))
    assert not stale, f"rules for routes that no longer exist: {stale}"
    assert not set(ROUTES) & set(PUBLIC)


def owner_call(client, method: str, url: str, api: bool):
    """The owner's request, undone afterwards, so a DELETE leaves the object for the next
    route."""
    with transaction.atomic():
        response = call(client, method, url, api)
        transaction.set_rollback(True)
    return response


def kind_routes(kind: str | None = None) -> list[tuple[str, URLPattern]]:
    routes = named_routes()
    return [
        (name, routes[name])
        for name, route in sorted(ROUTES.items())
        if kind is None or route.kind == kind
    ]


def test_anonymous_callers_are_refused(world):
    wrong = []
    for name, pattern in kind_routes():
        url = url_of(name, world)
        for method in methods_of(name, pattern):
            if is_api(name, pattern) or name == "metrics":
                response = call(APIClient(), method, url, api=True)
                if response.status_code not in (401, 403):
                    wrong.append((name, method, response.status_code))
            else:
                response = call(browser_for(), method, url, api=False)
                if response.status_code != 302 or not response["Location"].startswith(
                    "/accounts/login/?next="
                ):
                    wrong.append((name, method, response.status_code))
    assert not wrong, f"served to an anonymous caller: {wrong}"


def test_another_users_object_is_a_404(world, alice_api, alice, bob, bob_api):
    wrong = []
    for name, pattern in kind_routes(OWNED):
        url = url_of(name, world)
        api = is_api(name, pattern)
        for method in methods_of(name, pattern):
            refused = call(bob_api if api else browser_for(bob), method, url, api)
            if refused.status_code != 404 or (api and refused.json()["error"] != "not_found"):
                wrong.append(("bob", name, method, refused.status_code))
            # The owner's same request finds the object: the 404 was bob's alone (an
            # owner's 404 may only say something else, e.g. "no evaluation yet").
            response = owner_call(alice_api if api else browser_for(alice), method, url, api)
            if response.status_code >= 500 or (
                response.status_code == 404 and response.content == refused.content
            ):
                wrong.append(("alice", name, method, response.status_code))
    assert not wrong, f"wrong answers for another user's object: {wrong}"


def test_lists_show_only_the_callers_own_things(world, bob, bob_api):
    wrong = []
    for name, pattern in [*kind_routes(MINE), ("home", named_routes()["home"])]:
        url = reverse(name) if name == "home" else url_of(name, world)
        api = is_api(name, pattern)
        for method in methods_of(name, pattern):
            response = call(bob_api if api else browser_for(bob), method, url, api)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if response.status_code >= 500 or SECRET.encode() in body:
                wrong.append((name, method, response.status_code))
    assert not wrong, f"alice's things shown to bob (or a 5xx): {wrong}"


def test_staff_routes_refuse_everyone_else(world, alice, alice_api, staff):
    wrong = []
    staff_api = client_for(staff)
    for name, pattern in kind_routes(STAFF):
        url = url_of(name, world)
        api = is_api(name, pattern) or name == "metrics"
        for method in methods_of(name, pattern):
            body = {"deployment": world.deployment}
            if api:
                refused = getattr(alice_api, method)(url, body, format="json")
                expected = 403
                allowed = getattr(staff_api, method)(url, body, format="json")
                if name == "metrics":  # a scraper's endpoint: staff come with a session
                    allowed = getattr(browser_for(staff), method)(url)
            else:
                refused = getattr(browser_for(alice), method)(url, body)
                expected = 404  # as if the page did not exist
                allowed = getattr(browser_for(staff), method)(url, body)
            if refused.status_code != expected:
                wrong.append(("alice", name, method, refused.status_code))
            if allowed.status_code not in (200, 201, 302):
                wrong.append(("staff", name, method, allowed.status_code))
    assert not wrong, f"staff routes answering wrongly: {wrong}"


def test_admin_is_staff_only(alice, world, django_user_model):
    from django.contrib import admin

    admin_user = django_user_model.objects.create_superuser("root", password="root-pass-1")
    urls = [reverse("admin:index")] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    for url in urls:
        for user in (None, alice):
            response = browser_for(user).get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url
        assert browser_for(admin_user).get(url).status_code == 200, url


def test_a_job_cannot_use_another_users_data_set(world, bob_api):
    response = bob_api.post(
        "/api/v1/jobs/",
        {
            "kind": "hpo",
            "name": "mine",
            "dataset": world.dataset,
            "config": {
                "task": "classification",
                "target": "species",
                "metric": "accuracy",
                "model": "logistic_regression",
                "n_trials": 1,
            },
        },
        format="json",
    )
    assert response.status_code == 400 and "dataset" in response.json()["fields"]


def test_a_deployment_cannot_serve_another_users_model(world, bob_api):
    response = bob_api.post(
        "/api/v1/deployments/",
        {
            "name": "mine",
            "model_name": f"{SECRET}-model",
            "routes": [{"version": world.model, "weight": 1}],
        },
        format="json",
    )
    assert response.status_code in (400, 404), response.content
    from automl.serving.models import Deployment

    assert not Deployment.objects.filter(name="mine").exists()
