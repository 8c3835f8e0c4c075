"""API tokens can be revoked (API and account page); failed sign-ins are throttled per
username and address, on the login page, the token endpoint and the admin's login alike,
with the count shared by every web process and independent of the cache."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.support.api import browser_for

pytestmark = pytest.mark.django_db

WRONG = {"username": "alice", "password": "not-her-password"}
RIGHT = {"username": "alice", "password": "alice-password-1"}


def test_it_revokes_the_callers_token_over_the_api(alice, bob, alice_api, bob_api):
    assert alice_api.get("/api/v1/jobs/").status_code == 200
    assert alice_api.delete("/api/v1/auth/token/").status_code == 204
    refused = alice_api.get("/api/v1/jobs/")
    assert refused.status_code == 401 and refused.json()["error"] == "authentication_failed"
    assert bob_api.get("/api/v1/jobs/").status_code == 200  # only the caller's token
    fresh = APIClient().post("/api/v1/auth/token/", RIGHT).json()["token"]
    assert fresh != "" and Token.objects.get(user=alice).key == fresh


def test_revoking_needs_a_caller(alice):
    assert APIClient().delete("/api/v1/auth/token/").status_code == 401


def test_the_account_page_shows_and_revokes_the_token(alice, alice_api):
    key = Token.objects.get(user=alice).key
    client = browser_for(alice)
    page = client.get("/accounts/").content.decode()
    assert key in page and "Revoke token" in page
    assert 'href="/accounts/"' in page  # linked from the navigation
    response = client.post("/accounts/token/revoke/", follow=True)
    assert "API token revoked" in response.content.decode()
    assert not Token.objects.filter(user=alice).exists()
    assert alice_api.get("/api/v1/jobs/").status_code == 401
    client.post("/accounts/token/")
    assert Token.objects.get(user=alice).key in client.get("/accounts/").content.decode()


def test_the_token_endpoint_throttles_failed_sign_ins(alice, settings):
    api = APIClient()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert api.post("/api/v1/auth/token/", WRONG).status_code == 400
    refused = api.post("/api/v1/auth/token/", RIGHT)  # even the right password waits
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "throttled" and "try again in 15 minutes" in body["detail"]
    assert 800 < int(refused["Retry-After"]) <= 900
    # Another address, or another username, is not held up.
    assert api.post("/api/v1/auth/token/", RIGHT, REMOTE_ADDR="10.0.0.9").status_code == 200
    assert api.post("/api/v1/auth/token/", {**WRONG, "username": "bob"}).status_code == 400


def test_a_success_clears_the_count(alice, settings):
    api = APIClient()
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        api.post("/api/v1/auth/token/", WRONG)
    assert api.post("/api/v1/auth/token/", RIGHT).status_code == 200
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        api.post("/api/v1/auth/token/", WRONG)
    assert api.post("/api/v1/auth/token/", RIGHT).status_code == 200


def test_the_wait_ends_with_the_window(alice, settings, monkeypatch):
    import time

    api = APIClient()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        api.post("/api/v1/auth/token/", WRONG)
    assert api.post("/api/v1/auth/token/", RIGHT).status_code == 429
    later = time.time() + settings.LOGIN_FAILURE_WINDOW_S + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert api.post("/api/v1/auth/token/", RIGHT).status_code == 200


def test_the_login_page_throttles_failed_sign_ins(alice, settings):
    client = browser_for()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        response = client.post("/accounts/login/", WRONG)
        assert response.status_code == 200
        assert "Please enter a correct" in response.content.decode()
    refused = client.post("/accounts/login/", RIGHT)
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert "try again in 15 minutes" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # The API shares the count: the same username from the same address waits there too.
    assert APIClient().post("/api/v1/auth/token/", RIGHT).status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(alice, settings):
    settings.TRUSTED_PROXY_HOPS = 1  # nginx appends the address it saw
    api = APIClient()
    via = {"REMOTE_ADDR": "172.18.0.5"}  # every request comes from the proxy
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        # The client's own claim (left of the proxy's entry) is not trusted.
        forged = {"HTTP_X_FORWARDED_FOR": f"6.6.6.{_}, 203.0.113.7", **via}
        assert api.post("/api/v1/auth/token/", WRONG, **forged).status_code == 400
    held = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", **via}
    assert api.post("/api/v1/auth/token/", RIGHT, **held).status_code == 429
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.2", **via}
    assert api.post("/api/v1/auth/token/", RIGHT, **other).status_code == 200


def test_the_admin_login_is_throttled_too(staff, settings):
    client = browser_for()
    wrong = {"username": "sam", "password": "not-his-password"}
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        response = client.post("/admin/login/", wrong)
        assert response.status_code == 200 and "correct username" in response.content.decode()
    refused = client.post("/admin/login/", {"username": "sam", "password": "sam-password-1"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # One count for every path: the login page and the API refuse the same pair.
    right = {"username": "sam", "password": "sam-password-1"}
    assert browser_for().post("/accounts/login/", right).status_code == 429
    assert APIClient().post("/api/v1/auth/token/", right).status_code == 429


FAIL_IN_ANOTHER_PROCESS = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "automl.settings"
django.setup()
from django.test import Client
for _ in range(int(sys.argv[1])):
    wrong = {"username": "alice", "password": "x"}
    assert Client().post("/admin/login/", wrong).status_code == 200
"""


@pytest.mark.django_db(transaction=True)
def test_every_web_process_sees_the_same_count(alice, settings, real_services):
    """gunicorn runs two workers: failures counted in one refuse the right password in the
    other (a per-process memory cache let 2 x LIMIT guesses through)."""
    db = django_settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": ""}  # its own memory cache
    limit = str(settings.LOGIN_FAILURE_LIMIT)
    subprocess.run([sys.executable, "-c", FAIL_IN_ANOTHER_PROCESS, limit], env=env, check=True)
    assert APIClient().post("/api/v1/auth/token/", RIGHT).status_code == 429


def test_sign_in_works_while_the_cache_redis_is_down(alice, staff, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
        }
    }
    api = APIClient()
    assert api.post("/api/v1/auth/token/", WRONG).status_code == 400
    assert api.post("/api/v1/auth/token/", RIGHT).status_code == 200
    assert browser_for().post("/accounts/login/", RIGHT).status_code == 302
    admin = {"username": "sam", "password": "sam-password-1"}
    assert browser_for().post("/admin/login/", admin).status_code == 302
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        api.post("/api/v1/auth/token/", WRONG)
    assert api.post("/api/v1/auth/token/", RIGHT).status_code == 429  # and still counted
