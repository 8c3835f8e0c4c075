"""The compose file parses, and every file, module and command it names exists here."""

import importlib.util
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def test_it_names_build_files_and_mounts_that_exist():
    services = compose()["services"]
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert context == ROOT, name
            assert (context / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).is_file(), f"{name}: {source}"
    assert (DOCKER / ".env.example").is_file()


def test_it_runs_commands_that_exist_in_the_project():
    services = compose()["services"]
    for name, service in services.items():
        command = service.get("command") or []
        if command[:1] == ["celery"]:
            assert command[1:3] == ["-A", "automl"], name
            assert (ROOT / "platform" / "automl" / "celery.py").is_file()
        if command[:1] == ["gunicorn"]:
            module = command[1].replace(".", "/") + ".py"
            assert (ROOT / "platform" / module).is_file(), name
        text = " ".join(command)
        if "manage.py" in text:
            assert (ROOT / "manage.py").is_file()
            # Our own management commands (migrate is Django's).
            for own in re.findall(r"manage\.py (\w+)", text):
                if own != "migrate":
                    assert list(ROOT.glob(f"platform/automl/*/management/commands/{own}.py"))
    for package in ("gunicorn", "celery"):
        assert importlib.util.find_spec(package), package


def test_it_wires_the_deployment_the_design_asks_for():
    services = compose()["services"]
    assert "pgdata" in " ".join(services["postgres"]["volumes"])
    assert (
        services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1]
        == "yes"
    )
    assert (
        services["worker-cpu"]["command"][services["worker-cpu"]["command"].index("-Q") + 1]
        == "cpu"
    )
    gpu = services["worker-gpu"]
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "beat" in services["beat"]["command"]
    for name in ("postgres", "redis", "web", "worker-cpu", "worker-gpu", "nginx"):
        assert services[name].get("healthcheck"), f"{name} has no health check"
    nginx = (DOCKER / "nginx.conf").read_text()
    assert "least_conn;" in nginx and "server web:8000" in nginx
