"""Settings come from the environment; checked in fresh processes so each sees its own."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, platform, django
from django.conf import settings
from django.db import connection
django.setup()
out = {
    "engine": settings.DATABASES["default"]["ENGINE"],
    "broker": settings.CELERY_BROKER_URL,
    "broker_kind": settings.BROKER_KIND,
    "secret": settings.SECRET_KEY,
    "system": platform.system(),
    "platform_file": platform.__file__,
    "cache": settings.CACHES["default"]["BACKEND"],
    "static_from_apps": settings.WHITENOISE_USE_FINDERS,
}
if out["engine"].endswith("sqlite3"):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        out["journal"] = cursor.fetchone()[0]
print(json.dumps(out))
"""

SERVICE_VARS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY")


def probe(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    clean.update(
        AUTOML_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="automl.settings",
        PYTHONPATH=f"{ROOT / 'platform'}:{ROOT}",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_set_means_sqlite_in_wal_mode_and_a_filesystem_queue(tmp_path):
    out = probe(tmp_path)
    assert out["engine"] == "django.db.backends.sqlite3"
    assert out["journal"] == "wal"
    assert out["broker_kind"] == "filesystem"
    assert out["cache"].endswith("LocMemCache")
    assert (tmp_path / "db.sqlite3").exists() and (tmp_path / "queue").is_dir()


def test_urls_switch_to_postgres_and_redis(tmp_path):
    out = probe(
        tmp_path,
        DATABASE_URL="postgres://u@db.example:5432/automl",
        CELERY_BROKER_URL="redis://cache.example:6379/0",
        REDIS_URL="redis://cache.example:6379/1",
    )
    assert out["engine"] == "django.db.backends.postgresql"
    assert out["broker_kind"] == "redis"
    assert out["cache"].endswith("RedisCache")


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    first = probe(tmp_path)["secret"]
    assert probe(tmp_path)["secret"] == first
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert probe(tmp_path, SECRET_KEY="from-env")["secret"] == "from-env"


@pytest.mark.parametrize(
    "env,message",
    [
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "unsupported database"),
        ({"CELERY_BROKER_URL": "amqp://guest@localhost//"}, "unsupported broker"),
        ({"DJANGO_DEBUG": "maybe"}, "not a boolean"),
    ],
)
def test_bad_settings_are_refused_loudly(tmp_path, env, message):
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    clean.update(AUTOML_VAR_DIR=str(tmp_path), PYTHONPATH=f"{ROOT / 'platform'}:{ROOT}", **env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_platform_is_the_standard_library_module_in_the_web_process():
    # This test process has Django set up with platform/ on sys.path.
    assert platform.system() == os.uname().sysname
    assert "site-packages" not in platform.__file__
    assert Path(platform.__file__).parent != ROOT / "platform"


def test_platform_is_the_standard_library_module_under_manage_py(tmp_path):
    out = probe(tmp_path)
    assert out["system"] == os.uname().sysname
    assert not out["platform_file"].startswith(str(ROOT))
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_collected_static_files_are_served_gzipped(settings, tmp_path):
    """What `./run up` and the image do: collectstatic writes each file with its gzipped
    copy, and whitenoise sends that copy to a browser that accepts it."""
    import gzip

    from django.core.management import call_command
    from django.test import Client

    assert probe(tmp_path)["static_from_apps"]  # nothing collected yet
    settings.STATIC_ROOT = static = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (static / "css" / "site.css.gz").is_file()
    assert not probe(tmp_path)["static_from_apps"]
    settings.WHITENOISE_USE_FINDERS = False  # as the probe saw settings.py decide
    client = Client()  # a new handler: whitenoise indexes STATIC_ROOT when it starts
    response = client.get("/static/css/site.css", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    body = gzip.decompress(b"".join(response.streaming_content))
    assert body == (static / "css" / "site.css").read_bytes()
    plain = client.get("/static/css/site.css")
    assert "Content-Encoding" not in plain
