"""Real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the
live server, with real worker processes (tests/support/workers.py) on Postgres and Redis.

Playwright's own browser download cannot work offline; .ci/run installs Debian's chromium.
Without it (or without playwright) these tests skip, and fail under
AUTOML_REQUIRE_SERVICES=1, as CI runs them.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.browser.steps import SCREENSHOTS
from tests.support.workers import skip_or_fail

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no browser at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (requirements-dev.txt)"
    return None


@pytest.fixture
def chromium(monkeypatch, live_server):
    """A headless Chromium; each test opens its own pages. It closes before the live
    server stops, so no request thread is left holding a database connection."""
    skip_or_fail(_missing())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls
    # are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # root in CI containers: Chromium's sandbox needs user namespaces it lacks.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        # The test's own queries ran beside Playwright's event loop, in a context of
        # their own: close that connection here, or the test database cannot be dropped.
        connections.close_all()
        browser.close()
