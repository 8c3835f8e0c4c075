"""The README's API walk-through runs as written on a fresh install: its shell commands,
taken from the README itself, are run one by one with curl against a live server whose
database is new (ids from 1), with the `admin` account `./run up` makes. A job a command
submits is run at once in this process, as the worker would run it."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.factories import run_here

pytestmark = [pytest.mark.django_db(transaction=True, reset_sequences=True), pytest.mark.slow]

# An open bug: in CI's Postgres shard, after other files, the README's predict was answered
# "X has 9 features, but RandomForestClassifier is expecting 4"; it passes alone and after
# the live-server files tried here. Still run and reported there (xfail, not strict) until
# the cause is found; on SQLite it must pass.
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")

ROOT = Path(__file__).resolve().parents[2]


def shell_block(after: str) -> str:
    """The first ```sh block of the README after the line starting with `after`."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\n" + after)
    return re.search(r"```sh\n(.*?)```", text[start:], re.S).group(1)


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n", " ", block)
    out: list[str] = []
    for line in joined.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if out and line.startswith(" "):  # inside a quoted JSON body that spans lines
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def run(command: str, env: dict) -> str:
    result = subprocess.run(
        ["bash", "-c", f"set -eo pipefail; {command}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (command, result.stderr)
    return result.stdout


@pytest.mark.xfail(ON_POSTGRES, reason="order-dependent predict failure on Postgres", strict=False)
def test_the_api_walkthrough_runs_as_written(live_server, monkeypatch, tmp_path, model_store):
    from django.core.management import call_command

    from automl.datasets.models import Dataset
    from automl.datasets.services import sync_builtin_datasets
    from automl.jobs.models import Job

    # A fresh install's bundled data sets take the first ids. An earlier transactional
    # test's flush made them again under its sequences (Postgres keeps counting), so they
    # are made again here, after this test's sequences were reset.
    Dataset.objects.all().delete()
    sync_builtin_datasets()
    monkeypatch.setenv("ADMIN_PASSWORD", "walk-through-password-1")  # as ./run up takes it
    call_command("ensure_admin", stdout=(tmp_path / "out").open("w"))
    env = {"PATH": "/usr/bin:/bin", "ADMIN_PASSWORD": "walk-through-password-1"}
    submitted = []
    blocks = ["## Using the API", 'Following on from "Using', "Following on from the API"]
    for block in map(shell_block, blocks):
        for command in commands(block):
            if command.startswith("URL="):
                env["URL"] = live_server.url
                continue
            if command.startswith("TOKEN="):
                env["TOKEN"] = run(f'{command}; echo "$TOKEN"', env).strip()
                continue
            body = json.loads(run(command, env))
            assert not (isinstance(body, dict) and "error" in body), (command, body)
            if "/api/v1/jobs/ -d" in command:  # a submission: the worker's part, here
                submitted.append(body["id"])
                job = run_here(Job.objects.get(id=body["id"]))
                assert job.status == "succeeded", job.error_message
            if "/predict/" in command:
                assert body["predictions"] == [0] and body["version"] in (1, 2), body
                assert body["deployment"] == 1
            if "compare/" in command:
                assert [v["id"] for v in body["versions"]] == [1, 2], body
    assert submitted == [1, 2, 3, 4]  # the ids the README names
    from automl.registry.models import ModelVersion

    made = ModelVersion.objects.filter(name="wine-mlp").order_by("id")
    assert [(v.id, v.version) for v in made] == [(3, 1), (4, 2), (5, 3), (6, 4)]
