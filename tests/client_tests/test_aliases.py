"""The Python client and the CLI set, find and remove registry aliases, make a
deployment follow one, subscribe webhooks and schedule jobs (a live server; no worker needed)."""

import json

import pytest
from click.testing import CliRunner

from automl_client import Client
from automl_client.cli import cli
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_moves_an_alias_a_deployment_follows(live_server, analyst, tmp_path, model_store):
    v1 = register(analyst, forest_dir(tmp_path / "v1"), name="iris")
    v2 = register(analyst, forest_dir(tmp_path / "v2", seed=1), name="iris")
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    assert client.models.set_alias(v1.id, "champion").aliases == ["champion"]
    deployment = client.deployments.create("live", v1.id)
    assert client.deployments.follow("live", "champion").follows == "champion"

    # The CLI moves it; the deployment's traffic follows.
    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    result = runner.invoke(cli, ["--json", "models", "alias", str(v2.id), "champion"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["aliases"] == ["champion"]
    assert client.models.by_alias("iris", "champion").id == v2.id
    assert client.deployments.get(deployment.id).routes == [{"version": v2.id, "weight": 100.0}]

    client.models.set_alias(v1.id, "old")
    client.models.remove_alias(v1.id, "old")
    assert client.models.get(v1.id).aliases == []


def test_it_subscribes_webhooks_and_verifies_their_signatures(live_server, analyst, receiver):
    from automl.registry.webhooks import signature
    from automl_client.client import verify_signature

    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    hook = client.webhooks.create(receiver.url, ["alias_moved", "drift_alert"])
    body = b'{"event":"alias_moved"}'
    sent = signature(hook["secret"], "1700000000", body)
    assert verify_signature(hook["secret"], "1700000000", body, sent)
    assert not verify_signature(hook["secret"], "1700000001", body, sent)
    assert [h["id"] for h in client.webhooks.list()] == [hook["id"]]
    assert client.webhooks.deliveries(hook["id"]) == []
    assert client.webhooks.set_active(hook["id"], False)["active"] is False
    client.webhooks.delete(hook["id"])
    assert client.webhooks.list() == []


def test_it_schedules_a_job_again(live_server, analyst):
    from automl.datasets.models import Dataset
    from automl.jobs.models import Job

    iris = Dataset.objects.get(builtin_name="iris")
    job = Job.objects.create(
        owner=analyst,
        kind="hpo",
        name="nightly",
        dataset=iris,
        config={"model": "random_forest", "n_trials": 2, "parallelism": 1},
    )
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    schedule = client.schedules.create("nightly", "30 2 * * *", from_job=job.id)
    assert schedule["job"]["kind"] == "hpo" and schedule["next_run_at"].endswith("02:30:00Z")
    assert client.schedules.set_enabled(schedule["id"], False)["enabled"] is False
    assert [s["id"] for s in client.schedules.list()] == [schedule["id"]]
    client.schedules.delete(schedule["id"])
    assert client.schedules.list() == []
