"""The client and the CLI ask the server for a job's trials sorted and filtered (the trial
explorer), and fetch only the first few when told: a live server, no worker."""

import json

import pytest
from click.testing import CliRunner

from automl_client import Client
from automl_client.cli import cli
from tests.api_tests.test_trial_explorer import auto_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_sorts_filters_and_limits_on_the_server(live_server, analyst, iris):
    job = auto_job(analyst, iris)
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    best = client.jobs.trials(job.id, ordering="-value", limit=2)
    assert [t.number for t in best] == [5, 1]
    svm = client.jobs.trials(job.id, family="svm", where={"svm.C": (1, None)})
    assert [t.number for t in svm] == [1]
    kernel = client.jobs.trials(job.id, where={"svm.kernel": ["rbf", "linear"]})
    assert [t.number for t in kernel] == [0, 1]

    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    result = runner.invoke(
        cli, ["--json", "jobs", "trials", str(job.id), "--family", "knn", "--ordering", "-value"]
    )
    assert result.exit_code == 0, result.output
    assert [t["number"] for t in json.loads(result.stdout)] == [3, 2]
    wrong = runner.invoke(cli, ["jobs", "trials", str(job.id), "--ordering", "colour"])
    assert wrong.exit_code != 0 and "ordering" in wrong.output
