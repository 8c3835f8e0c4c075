"""The Python client and the CLI set a deployment's monitoring policy, run its check and
read the activity log (a live server; no worker needed)."""

import json

import pytest
from click.testing import CliRunner

from automl_client import Client
from automl_client.cli import cli
from automl_client.errors import InvalidInput
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_sets_a_policy_checks_and_reads_the_activity(
    live_server, analyst, tmp_path, model_store
):
    version = register(analyst, forest_dir(tmp_path / "v1"), name="iris")
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    client.deployments.create("live", version.id)
    assert client.deployments.policy("live")["exists"] is False
    with pytest.raises(InvalidInput) as refused:
        client.deployments.set_policy("live", share_threshold=3)
    assert "share_threshold" in refused.value.fields
    policy = client.deployments.set_policy("live", action="retune", retune_every_hours=12)
    assert (policy["action"], policy["retune_every_hours"]) == ("retune", 12)

    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    result = runner.invoke(cli, ["--json", "policy", "set", "live", "--off", "--n-trials", "4"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["enabled"], body["n_trials"], body["action"]) == (False, 4, "retune")
    result = runner.invoke(cli, ["policy", "check", "live"])
    assert result.exit_code != 0 and "switched off" in result.output
    runner.invoke(cli, ["policy", "set", "live", "--on"])
    # The model has no training reference: the check says so, and the log keeps it.
    result = runner.invoke(cli, ["policy", "check", "live"])
    assert result.exit_code != 0 and "no reference statistics" in result.output
    entries = client.deployments.activity("live")
    assert [e["kind"] for e in entries] == ["drift_checked"]
    result = runner.invoke(cli, ["policy", "activity", "live"])
    assert "drift_checked" in result.output
