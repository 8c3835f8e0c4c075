"""Helpers for the data set tests: a fresh ARTIFACT_ROOT per test, so that "nothing was
stored" can be checked, and uploads as a client sends them."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile


@pytest.fixture
def artifacts(settings, tmp_path) -> Path:
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


def stored_files(root: Path) -> list[Path]:
    """Every file (and folder) left under ARTIFACT_ROOT/datasets."""
    return sorted((root / "datasets").rglob("*")) if (root / "datasets").exists() else []


def upload(api, name: str, content: bytes | str, **fields):
    if isinstance(content, str):
        content = content.encode()
    return api.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def raw_multipart(api, filename: str, content: bytes, **fields):
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
    return api.post(
        "/api/v1/datasets/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


IRIS_LIKE = "sepal,petal,colour,species\n" + "".join(
    f"{5 + i % 7 * 0.1:.1f},{1 + i % 5 * 0.3:.1f},{'red' if i % 3 else 'blue'},"
    f"{['setosa', 'versicolor', 'virginica'][i % 3]}\n"
    for i in range(60)
)
