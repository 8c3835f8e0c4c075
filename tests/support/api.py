"""REST clients: the DRF test client with a user's token, and `Api`, a `requests` session
on a live server (what a program outside the process sees)."""

import time

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def staff_api(staff) -> APIClient:
    return client_for(staff)


def browser_for(user=None, **kwargs) -> Client:
    """Django's test client as a browser, signed in as `user` when one is given."""
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def alice_browser(alice) -> Client:
    return browser_for(alice)


@pytest.fixture
def bob_browser(bob) -> Client:
    return browser_for(bob)


def submit(client: APIClient, kind: str, dataset, config: dict, **fields):
    """POST a job (dataset: a Dataset or its id); the response, whatever its status."""
    body = {"kind": kind, "dataset": getattr(dataset, "id", dataset), "config": config, **fields}
    return client.post("/api/v1/jobs/", body, format="json")


def upload(client: APIClient, name: str, content: bytes | str, **fields):
    """A data set upload as a client sends it; the response, whatever its status."""
    if isinstance(content, str):
        content = content.encode()
    return client.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def raw_multipart(client: APIClient, filename: str, content: bytes, **fields):
    """A multipart POST whose file name is sent exactly as given (the test client would
    strip directories from it)."""
    boundary = "----automl-test-boundary"
    parts = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        "/api/v1/datasets/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


class Api:
    """A token-authenticated `requests` session on a live server; get/post assert the
    expected status and return the JSON body."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    @classmethod
    def sign_in(cls, base: str, username: str, password: str) -> "Api":
        response = requests.post(
            base + "/api/v1/auth/token/",
            json={"username": username, "password": password},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return cls(base, response.json()["token"])

    def get(self, path: str) -> dict:
        response = self.session.get(self.base + path, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict | None = None, expect: int = 201) -> dict:
        response = self.session.post(self.base + path, json=body, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    def submit(self, kind: str, dataset: str | int, config: dict, **fields) -> dict:
        """Submit a job on a data set given by id or by built-in name; the created job."""
        dataset_id = self.dataset_id(dataset) if isinstance(dataset, str) else dataset
        return self.post(
            "/api/v1/jobs/", {"kind": kind, "dataset": dataset_id, "config": config, **fields}
        )

    def upload(self, name: str, text: str, **fields) -> dict:
        response = self.session.post(
            self.base + "/api/v1/datasets/",
            data=fields,
            files={"file": (name, text.encode())},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def wait(self, job_id: int, until, timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/jobs/{job_id}/")
            if until(job):
                return job
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s}s: {job}")

    def wait_finished(self, job_id: int, timeout_s: float = 180) -> dict:
        done = ("succeeded", "failed", "cancelled")
        return self.wait(job_id, lambda job: job["status"] in done, timeout_s)

    def all_trials(self, job_id: int) -> list[dict]:
        return self.get(f"/api/v1/jobs/{job_id}/trials/?page_size=1000")["results"]

    def dataset_id(self, builtin_name: str) -> int:
        datasets = self.get("/api/v1/datasets/?page_size=1000")["results"]
        return next(d["id"] for d in datasets if d["builtin_name"] == builtin_name)


@pytest.fixture
def api(live_server, django_user_model) -> Api:
    """An analyst (not staff) with a token, on the live server."""
    django_user_model.objects.create_user("analyst", password="analyst-password-1")
    return Api.sign_in(live_server.url, "analyst", "analyst-password-1")
