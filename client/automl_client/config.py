"""Where the client finds its server and token: arguments, then the environment
(`AUTOML_URL`, `AUTOML_TOKEN`), then the login that `automl login` saved.

The saved login is a JSON file in the user's config folder (click's `get_app_dir`:
`$XDG_CONFIG_HOME/automl` or `~/.config/automl` on Linux, the platform's own place on macOS
and Windows), readable by its owner only: it holds a token.
"""

import json
import os
from pathlib import Path

import click

LOGIN_FILE = "login.json"


def login_path() -> Path:
    return Path(click.get_app_dir("automl")) / LOGIN_FILE


def load_login() -> dict:
    """The saved {"url", "token", "username"}, or {} when there is none."""
    try:
        data = json.loads(login_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_login(url: str, token: str, username: str) -> Path:
    """Write the login with mode 0600 from its creation (never readable by others, even
    for a moment)."""
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps({"url": url, "token": token, "username": username}, indent=2)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(body + "\n")
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
    return path


def forget_login() -> bool:
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True


def resolve(url: str | None, token: str | None) -> tuple[str | None, str | None]:
    """The URL and token to use: each from the argument, else the environment, else the
    saved login (whose token is used only with its own URL)."""
    url = url or os.environ.get("AUTOML_URL") or None
    token = token or os.environ.get("AUTOML_TOKEN") or None
    saved = load_login()
    if url is None:
        url = saved.get("url")
    if token is None and saved.get("url") and _same(saved["url"], url):
        token = saved.get("token")
    return url, token


def _same(a: str, b: str | None) -> bool:
    return b is not None and a.rstrip("/") == b.rstrip("/")
