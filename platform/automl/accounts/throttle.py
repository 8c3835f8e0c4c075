"""Failed sign-ins, counted per username and client address in the database.

Every sign-in path authenticates through ThrottledBackend: the login page, the token
endpoint and the admin's login page. After LOGIN_FAILURE_LIMIT failures within
LOGIN_FAILURE_WINDOW_S, that username is refused from that address until the oldest
failure leaves the window, without its password being checked. A success clears the count.
Keyed on the pair, so one guesser cannot lock a user out from every other address. Behind
TRUSTED_PROXY_HOPS proxies (nginx in the compose file: 1) the address is the one the
outermost trusted proxy saw, from X-Forwarded-For; without that setting REMOTE_ADDR is the
proxy's, and the limit holds per username.

An attempt is recorded as a failure before its password is checked and removed on success,
so concurrent guesses (from one or several web processes) cannot all pass the check first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from automl.accounts.models import SignInFailure


def client_address(request: HttpRequest) -> str:
    """The client's address: X-Forwarded-For's entry appended by the outermost of our
    TRUSTED_PROXY_HOPS proxies (entries left of it are the client's own claims, not
    trusted), else REMOTE_ADDR."""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [
        a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()
    ]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def _key(username: str, request: HttpRequest) -> str:
    who = f"{username.strip().lower()}\0{client_address(request)}"
    return hashlib.sha256(who.encode()).hexdigest()


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def begin(username: str, request: HttpRequest) -> int:
    """Record this attempt as a failure; seconds to wait (the attempt is then withdrawn)
    when the window already holds LOGIN_FAILURE_LIMIT failures, else 0."""
    now = time.time()
    window, limit = settings.LOGIN_FAILURE_WINDOW_S, settings.LOGIN_FAILURE_LIMIT
    SignInFailure.objects.filter(at__lte=_moment(now - window)).delete()
    key = _key(username, request)
    attempt = SignInFailure.objects.create(key=key, at=_moment(now))
    earlier = list(
        SignInFailure.objects.filter(key=key, at__gt=_moment(now - window))
        .exclude(pk=attempt.pk)
        .order_by("-at", "-pk")
        .values_list("at", flat=True)[:limit]
    )
    if len(earlier) < limit:
        return 0
    attempt.delete()
    return max(1, math.ceil(earlier[-1].timestamp() + window - now))


def clear(username: str, request: HttpRequest) -> None:
    SignInFailure.objects.filter(key=_key(username, request)).delete()


def wait_text(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds > 60 else f"{seconds} s"


def refusal(seconds: int) -> str:
    return (
        "Too many failed sign-ins for this user from this address; "
        f"try again in {wait_text(seconds)}."
    )


def refused_wait(request) -> int:
    """The wait ThrottledBackend set on this request (DRF's or Django's); 0: not refused."""
    return getattr(getattr(request, "_request", request), "sign_in_wait", 0)


class ThrottledBackend(ModelBackend):
    """Django's username and password check behind the failure count. A refused attempt
    raises PermissionDenied (authenticate() then tries no other backend) and leaves the
    wait on the request for the view's 429."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:  # not a web sign-in (the test client's login, a shell)
            return super().authenticate(request, username, password, **kwargs)
        if username is None or password is None:
            return None
        if wait := begin(username, request):
            getattr(request, "_request", request).sign_in_wait = wait
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            clear(username, request)
        return user


class SignInThrottleMiddleware:
    """A refused sign-in is a 429 with Retry-After, whichever page or endpoint took it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if wait := refused_wait(request):
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response
