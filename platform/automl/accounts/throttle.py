"""Failed sign-ins, counted per username and client address in the cache.

After LOGIN_FAILURE_LIMIT failures within LOGIN_FAILURE_WINDOW_S, both the login page and
the token endpoint refuse that username from that address until the oldest failure leaves
the window. A success clears the count. Keyed on the pair, so one guesser cannot lock a
user out from every other address. Behind TRUSTED_PROXY_HOPS proxies (nginx in the compose
file: 1) the address is the one the outermost trusted proxy saw, from X-Forwarded-For;
without that setting REMOTE_ADDR is the proxy's, and the limit holds per username.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


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
    return "login-failures:" + hashlib.sha256(who.encode()).hexdigest()


def _recent(key: str, now: float) -> list[float]:
    window = settings.LOGIN_FAILURE_WINDOW_S
    return [t for t in cache.get(key, []) if now - t < window]


def wait_seconds(username: str, request: HttpRequest) -> int:
    """Seconds until this username may try again from this address; 0: now."""
    now = time.time()
    failures = _recent(_key(username, request), now)
    if len(failures) < settings.LOGIN_FAILURE_LIMIT:
        return 0
    oldest = failures[-settings.LOGIN_FAILURE_LIMIT]
    return max(1, math.ceil(oldest + settings.LOGIN_FAILURE_WINDOW_S - now))


def record_failure(username: str, request: HttpRequest) -> None:
    now = time.time()
    key = _key(username, request)
    failures = _recent(key, now)[-settings.LOGIN_FAILURE_LIMIT :] + [now]
    cache.set(key, failures, timeout=settings.LOGIN_FAILURE_WINDOW_S)


def clear(username: str, request: HttpRequest) -> None:
    cache.delete(_key(username, request))


def wait_text(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds > 60 else f"{seconds} s"


class FailedLoginThrottle(BaseThrottle):
    """DRF's 429 (with Retry-After) for a username that failed too often from here."""

    def allow_request(self, request, view) -> bool:
        # The body may be any JSON (a list, a string): the view answers it with a 400.
        data = request.data if isinstance(request.data, dict) else {}
        self._wait = wait_seconds(str(data.get("username", "")), request._request)
        return self._wait == 0

    def wait(self) -> int:
        return self._wait
