"""A Content-Security-Policy on every response, and nothing in our pages that it would
block: no inline script, no inline event handler."""

import re
from pathlib import Path

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
ROOT = Path(__file__).resolve().parents[2]
# A data block (Django's json_script: type="application/json") is never executed, so the
# policy has nothing to block there; any other script without src= would be.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_every_page_has_the_policy_and_no_inline_script(world, alice, staff):
    routes = named_routes()
    checked, wrong = 0, []
    for name, route in sorted(ROUTES.items()):
        if is_api(name, routes[name]) or "get" not in methods_of(name, routes[name]):
            continue
        response = browser_for(staff if route.kind == STAFF else alice).get(url_of(name, world))
        checked += 1
        csp = policy(response)
        if csp.get("script-src") != "'self'" or csp.get("frame-ancestors") != "'none'":
            wrong.append((name, "policy", csp))
        html = response.content.decode()
        if INLINE_SCRIPT.search(html) or INLINE_HANDLER.search(html):
            wrong.append(
                (
                    name,
                    "inline script",
                    (INLINE_SCRIPT.search(html) or INLINE_HANDLER.search(html)).group(0),
                )
            )
    assert checked > 15
    assert not wrong, wrong


@pytest.mark.parametrize(
    "url", ["/healthz", "/api/v1/jobs/", "/no-such-page/", "/accounts/login/", "/admin/login/"]
)
def test_every_response_has_the_policy(url, client):
    assert "script-src 'self'" in client.get(url)["Content-Security-Policy"]


def test_no_template_has_inline_script():
    wrong = []
    for path in (ROOT / "frontend" / "templates").rglob("*.html"):
        text = path.read_text()
        if INLINE_SCRIPT.search(text) or INLINE_HANDLER.search(text):
            wrong.append(str(path.relative_to(ROOT)))
    assert not wrong, wrong


def test_charts_are_json_in_an_attribute_or_fetched(world, alice):
    browser = browser_for(alice)
    page = browser.get(f"/datasets/{world.dataset}/").content.decode()
    assert 'data-figure="{' in page and "/static/js/charts.js" in page
    assert "Plotly.newPlot(" not in page
    # The job page's script fetches its figures as JSON (jobs.js draws them).
    page = browser.get(f"/jobs/{world.job}/").content.decode()
    assert "data-charts-url=" in page and "Plotly.newPlot(" not in page
    assert browser.get(f"/jobs/{world.job}/charts/").json()["figures"]
