"""Every POST form of the site, and the API under a browser session, needs the CSRF token."""

import pytest

from tests.security_tests.test_access import (
    ROUTES,
    STAFF,
    is_api,
    methods_of,
    named_routes,
    url_of,
)
from tests.support.api import browser_for

pytestmark = pytest.mark.django_db


def test_every_post_without_the_token_is_refused(world, alice, staff):
    routes = named_routes()
    checked, wrong = 0, []
    for name, route in sorted(ROUTES.items()):
        pattern = routes[name]
        for method in methods_of(name, pattern):
            if method == "get" or name == "metrics":
                continue
            user = staff if route.kind == STAFF else alice
            client = browser_for(user, enforce_csrf_checks=True)
            url = url_of(name, world)
            if is_api(name, pattern):
                response = getattr(client, method)(url, {}, content_type="application/json")
            else:
                response = getattr(client, method)(url, {})
            checked += 1
            if response.status_code != 403:
                wrong.append((name, method, response.status_code))
    assert checked > 20
    assert not wrong, f"accepted without a CSRF token: {wrong}"


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/logout/"])
def test_sign_in_and_out_need_the_token(url, alice):
    client = browser_for(alice if "logout" in url else None, enforce_csrf_checks=True)
    response = client.post(url, {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 403


def test_a_form_with_its_token_is_accepted(alice):
    client = browser_for(alice, enforce_csrf_checks=True)
    page = client.get("/accounts/")
    token = page.context["csrf_token"]
    response = client.post("/accounts/token/", {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
