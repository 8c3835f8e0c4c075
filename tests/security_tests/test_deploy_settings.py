"""Production settings pass `manage.py check --deploy`; production refuses to start without
its secrets; no secret is committed; service credentials come only from the environment."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 20 + "-A9z_Q3-" + "x7" * 20  # long and varied enough for Django's own check


def manage(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ENV", "DJANGO_DEBUG")
    }
    base.update(PYTHONPATH=f"{ROOT / 'platform'}:{ROOT}", AUTOML_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": KEY, "ALLOWED_HOSTS": "automl.example.com"}


def test_check_deploy_is_clean_in_production(tmp_path):
    done = manage(
        ["check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        tmp_path,
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout, done.stdout + done.stderr
    every = manage(["check", "--deploy", "--fail-level", "ERROR"], tmp_path, **PRODUCTION)
    assert every.returncode == 0, every.stdout + every.stderr
    assert "security.W" not in every.stdout + every.stderr


def test_development_defaults_would_fail_it(tmp_path):
    """The check above can fail: without DJANGO_ENV the HTTPS settings are off."""
    done = manage(
        ["check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        tmp_path,
        SECRET_KEY=KEY,
    )
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_needs_its_settings_from_the_environment(missing, tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    done = manage(["check"], tmp_path, **env)
    assert done.returncode != 0
    assert f"DJANGO_ENV=production needs {missing}" in done.stderr
    assert not (tmp_path / "secret_key").exists()  # never a generated key in production


def test_production_refuses_debug(tmp_path):
    done = manage(["check"], tmp_path, **PRODUCTION, DJANGO_DEBUG="1")
    assert done.returncode != 0 and "DJANGO_DEBUG must be off" in done.stderr


def test_probes_stay_on_plain_http_behind_the_proxy(settings, client, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/healthz").status_code == 200
    assert client.get("/jobs/").status_code == 301  # plain HTTP elsewhere goes to HTTPS
    assert client.get("/jobs/", HTTP_X_FORWARDED_PROTO="https").status_code == 302  # login


# --- secrets in the repository

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "Slack token": re.compile(r"\bxox[abp]-[A-Za-z0-9-]{10,}"),
}
# A password, secret or key given a literal value (not ${VAR} or the environment).
ASSIGNED = re.compile(
    r"""(?ix)(?<![\w${])[\w.]*(password|passwd|secret|api_key|token)\w*["']?\s*[:=]\s*
        (["'][^"'$]{4,}["']|[\w\-./+]{4,}(?=\s*(,|}|$)))"""
)
# Service URLs with a password in them: user:password@host.
URL_PASSWORD = re.compile(r"\b(postgres(?:ql)?|redis|rediss|amqp)://[^:/\s@]+:([^@\s${}]+)@")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).is_file()]


def test_no_private_key_or_token_is_committed():
    found = []
    for path in tracked():
        if path.suffix in (".png", ".jpg", ".ico", ".woff", ".woff2", ".gz", ".zip"):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [
            f"{path.relative_to(ROOT)}: {what}"
            for what, pattern in SECRET_PATTERNS.items()
            if pattern.search(text)
        ]
    assert len(tracked()) > 100
    assert not found, found


def test_settings_and_deployment_files_hold_no_literal_credentials():
    files = tracked(
        "platform/automl/settings.py",
        "docker",
        ".env*",
        "*.yml",
        "*.yaml",
        "*.toml",
        "*.ini",
        "*.cfg",
    )
    wrong = []
    for path in files:
        if path.name == ".env.example":  # placeholders for the user to replace
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            if ASSIGNED.search(line) or URL_PASSWORD.search(line):
                wrong.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert any(p.name == "compose.yml" for p in files)
    assert not wrong, wrong


def test_the_patterns_catch_what_they_are_for():
    assert ASSIGNED.search("POSTGRES_PASSWORD: automl")
    assert ASSIGNED.search('SECRET_KEY = "django-insecure-abc"')
    assert not ASSIGNED.search("SECRET_KEY: ${SECRET_KEY:?set SECRET_KEY}")
    assert not ASSIGNED.search("SECRET_KEY = secret_key()")
    assert not ASSIGNED.search('ADMIN_PASSWORD: "${ADMIN_PASSWORD:-}"')
    assert URL_PASSWORD.search("DATABASE_URL: postgres://automl:automl@postgres:5432/automl")
    assert not URL_PASSWORD.search("postgres://automl:${POSTGRES_PASSWORD}@postgres/automl")
