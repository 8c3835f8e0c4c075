"""The client and the CLI show a data set's first rows as it stores them: a live server."""

import json

import pytest
from click.testing import CliRunner

from automl_client import Client
from automl_client.cli import cli

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_first_rows_of_a_builtin_by_name(live_server, analyst):
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    first = client.datasets.rows("iris", limit=2)
    assert first["columns"][0] == "sepal length (cm)" and first["columns"][-1] == "species"
    assert first["rows"] == [[5.1, 3.5, 1.4, 0.2, 0], [4.9, 3.0, 1.4, 0.2, 0]]

    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    shown = runner.invoke(cli, ["datasets", "rows", "iris", "--limit", "3"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split()[:2] == ["SEPAL", "LENGTH"] and len(lines) == 4
    assert lines[1].split() == ["5.1", "3.5", "1.4", "0.2", "0"]
    as_json = runner.invoke(cli, ["--json", "datasets", "rows", "iris", "--limit", "1"])
    assert json.loads(as_json.stdout)["rows"] == [[5.1, 3.5, 1.4, 0.2, 0]]
