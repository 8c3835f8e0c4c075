"""The client against a small local HTTP server: error answers become exceptions carrying
the API's fields, connection errors are retried, and the CLI turns both into exit codes.
No Django here: the client is a program of its own."""

import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from automl_client import (
    ApiError,
    Client,
    ConfigurationError,
    ConnectionFailed,
    InvalidInput,
    NotFound,
    OverQuota,
    config,
    jobfile,
)
from automl_client.cli import cli
from tests.support.servers import free_port

INVALID = {
    "error": "invalid",
    "detail": "config.n_trials: must be at most 10000",
    "fields": {"config.n_trials": ["must be at most 10000"]},
}


class Handler(BaseHTTPRequestHandler):
    """Answers from the server's `answers` table by path; `drop` connections are closed
    without an answer first."""

    def log_message(self, *args) -> None:
        pass

    def handle_one_request(self) -> None:
        server = self.server
        server.connections += 1
        if server.drop > 0:
            server.drop -= 1
            self.raw_requestline = self.rfile.readline(65537)
            self.close_connection = True
            return  # the connection closes without a status line
        super().handle_one_request()

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(self.rfile.read(length))
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        status, body, content_type = self.server.answers.get(
            self.path.split("?")[0], (404, {"error": "not_found", "detail": "Not found."}, None)
        )
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = answer


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.answers, httpd.seen, httpd.bodies = {}, [], []
    httpd.connections, httpd.drop = 0, 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_an_invalid_submission_raises_with_the_fields_at_fault(server):
    server.answers["/api/v1/jobs/"] = (400, INVALID, None)
    client = Client(server.url, "t0ken", progress=False)
    with pytest.raises(InvalidInput) as caught:
        client.jobs.submit("hpo", 1, {"n_trials": 10**6})
    assert caught.value.status == 400 and caught.value.code == "invalid"
    assert caught.value.fields == {"config.n_trials": ["must be at most 10000"]}
    assert server.seen == [("POST", "/api/v1/jobs/", "Token t0ken")]
    assert json.loads(server.bodies[0]) == {
        "kind": "hpo",
        "dataset": 1,
        "config": {"n_trials": 10**6},
    }


def test_a_missing_object_is_not_found_and_a_foreign_answer_keeps_its_text(server):
    client = Client(server.url, "t", progress=False)
    with pytest.raises(NotFound) as missing:
        client.jobs.get(99)
    assert missing.value.detail == "Not found."
    server.answers["/api/v1/jobs/1/"] = (502, "<html>Bad gateway</html>", "text/html")
    with pytest.raises(ApiError) as foreign:
        client.jobs.get(1)
    assert foreign.value.status == 502 and foreign.value.code == "http_error"
    assert "Bad gateway" in foreign.value.detail


def test_a_dropped_connection_is_retried_for_a_read(server):
    server.answers["/api/v1/jobs/7/"] = (200, {"id": 7, "status": "running"}, None)
    server.drop = 2
    client = Client(server.url, "t", progress=False, retries=2, backoff_s=0)
    job = client.jobs.get(7)
    assert (job.id, job.status) == (7, "running")
    assert server.connections == 3


def test_a_dropped_submission_is_not_sent_twice(server):
    server.answers["/api/v1/jobs/"] = (201, {"id": 1}, None)
    server.drop = 1
    client = Client(server.url, "t", progress=False, retries=3, backoff_s=0)
    with pytest.raises(ConnectionFailed):
        client.jobs.submit("hpo", 1, {})
    assert server.connections == 1 and server.seen == []


def test_a_server_that_is_not_there_fails_after_the_retries():
    url = f"http://127.0.0.1:{free_port()}"
    client = Client(url, "t", progress=False, retries=2, backoff_s=0)
    with pytest.raises(ConnectionFailed, match="after 3 attempts"):
        client.jobs.list()


def test_the_url_and_token_come_from_the_environment_then_the_saved_login(server, monkeypatch):
    with pytest.raises(ConfigurationError, match="automl login"):
        Client()
    path = config.save_login(server.url, "saved-token", "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Client().token == "saved-token"
    monkeypatch.setenv("AUTOML_TOKEN", "env-token")
    assert Client().token == "env-token"
    # The saved token is only ever sent to the server it came from.
    assert Client("http://elsewhere.example").token == "env-token"
    monkeypatch.delenv("AUTOML_TOKEN")
    assert Client("http://elsewhere.example").token is None


def test_the_cli_exits_1_naming_the_field_on_an_api_error(server, tmp_path):
    server.answers["/api/v1/jobs/"] = (400, INVALID, None)
    job_file = tmp_path / "job.yaml"
    job_file.write_text("kind: hpo\ndataset: 1\nconfig: {n_trials: 1000000}\n")
    runner = CliRunner()
    args = ["--url", server.url, "--token", "t", "jobs", "submit", str(job_file)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "config.n_trials: must be at most 10000" in result.stderr
    as_json = runner.invoke(cli, ["--json", *args])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stderr)["fields"] == INVALID["fields"]


def test_the_cli_exits_2_on_a_usage_error(server, tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["jobs", "list"]).exit_code == 2  # no server to talk to
    bad_file = tmp_path / "job.yaml"
    bad_file.write_text("kind: hpo\ndataset: 1\nconfg: {}\n")
    result = runner.invoke(cli, ["--url", server.url, "jobs", "submit", str(bad_file)])
    assert result.exit_code == 2 and "confg: not a job file key" in result.stderr
    canary = ["--url", server.url, "deploy", "3", "--name", "x", "--canary", "4:1.5"]
    assert runner.invoke(cli, canary).exit_code == 2
    assert server.seen == []


def test_a_job_file_takes_overrides_read_as_yaml(tmp_path):
    path = tmp_path / "job.json"
    path.write_text('{"kind": "compression", "dataset": "digits", "config": {"steps": []}}')
    definition = jobfile.load(path, ["config.model_version=12", "name=small one"])
    assert definition["config"] == {"steps": [], "model_version": 12}
    assert definition["name"] == "small one"
    with pytest.raises(ConfigurationError, match="dotted.path=value"):
        jobfile.load(path, ["model_version"])


def test_a_job_files_priority_is_sent_and_a_refusal_over_quota_names_the_limit(server, tmp_path):
    over = {
        "error": "quota",
        "detail": "you have 20 queued or running jobs, the limit (JOB_MAX_ACTIVE_PER_USER, "
        "or your quota) is 20: wait for one to finish or cancel one",
        "fields": {"quota": ["at most 20 queued or running jobs"]},
    }
    server.answers["/api/v1/jobs/"] = (429, over, None)
    job_file = tmp_path / "job.yaml"
    job_file.write_text("kind: hpo\ndataset: 1\nconfig: {}\npriority: 5\n")
    client = Client(server.url, "t", progress=False)
    with pytest.raises(OverQuota) as caught:
        client.jobs.submit_file(job_file)
    assert caught.value.status == 429 and caught.value.fields == over["fields"]
    assert json.loads(server.bodies[0])["priority"] == 5
    result = CliRunner().invoke(
        cli, ["--url", server.url, "--token", "t", "jobs", "submit", str(job_file)]
    )
    assert result.exit_code == 1 and "the limit (JOB_MAX_ACTIVE_PER_USER" in result.stderr
