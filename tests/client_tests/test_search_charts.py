"""The client and the CLI fetch a chart of a job's search space as its page draws it (a
chart, a model family, its parameters): a live server, no worker."""

import json

import pytest
from click.testing import CliRunner

from automl_client import Client
from automl_client.cli import cli
from automl_client.errors import ApiError
from tests.api_tests.test_trial_explorer import auto_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_fetches_the_picked_chart(live_server, analyst, iris, tmp_path):
    job = auto_job(analyst, iris)
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    answer = client.jobs.search_chart(
        job.id, "contour", family="svm", params=["svm.C", "svm.kernel"]
    )
    assert answer["family"] == "svm" and answer["figure"]["data"][0]["type"] == "contour"
    default = client.jobs.search_chart(job.id)
    assert default["family"] == "mlp" and default["chart"] == "parcoords"  # the best's family
    with pytest.raises(ApiError, match="not a parameter of the svm family"):
        client.jobs.search_chart(job.id, family="svm", params=["knn.p"])

    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    out = tmp_path / "edf.json"
    result = runner.invoke(
        cli, ["jobs", "chart", str(job.id), "--chart", "edf", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "chart: edf" in result.output and f"figure written to {out}" in result.output
    figure = json.loads(out.read_text())
    assert [t["name"] for t in figure["data"]][0] == "knn (1 trials)"
    picked = runner.invoke(
        cli, ["--json", "jobs", "chart", str(job.id), "--family", "knn", "--param", "knn.p"]
    )
    assert json.loads(picked.stdout)["params"] == ["knn.p"]
