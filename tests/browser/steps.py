"""Steps every browser test takes: sign in, and keep a screenshot of what it saw."""

import re
from pathlib import Path

SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/jobs/")
    assert "/accounts/login/" in page.url  # the pages need a login
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/jobs/$"))


def shoot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
