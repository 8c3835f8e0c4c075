"""User files are never unpickled: a torch checkpoint whose unpickling would write a file is
refused wherever weights come in (registry import by API and page, model load, compression
input), and the file never appears. Uploads: no pickled .npz, size limits that name the
limit, stored names never from the client."""

import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.api import browser_for, raw_multipart, upload
from tests.support.data import IRIS_LIKE, stored_files
from tests.support.factories import mlp_dir

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


class Trap:
    """Unpickling this runs code: it writes `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "pwned.txt"


@pytest.fixture
def trap(marker) -> bytes:
    buffer = io.BytesIO()
    torch.save({"0.weight": torch.zeros(2, 2), "hook": Trap(marker)}, buffer)
    return buffer.getvalue()


def test_the_trap_works_when_unpickled(trap, marker):
    """The checkpoint is live: plain unpickling writes the file (so the tests below can fail)."""
    torch.load(io.BytesIO(trap), weights_only=False)
    assert marker.read_text() == "pwned"


def test_weights_only_loading_refuses_it(trap, marker):
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        torch.load(io.BytesIO(trap), weights_only=True)
    assert not marker.exists()


def test_registry_import_refuses_it(trap, marker, alice, alice_api, model_store, tmp_path):
    spec = json.loads((mlp_dir(tmp_path / "mlp") / "spec.json").read_text())
    loose = alice_api.post(
        "/api/v1/models/import/",
        {
            "name": "trap",
            "spec": SimpleUploadedFile("spec.json", json.dumps(spec).encode()),
            "weights": SimpleUploadedFile("weights.safetensors", trap),
        },
        format="multipart",
    )
    assert 400 <= loose.status_code < 500, loose.content
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("spec.json", json.dumps(spec))
        z.writestr("weights.safetensors", trap)
    zipped = alice_api.post(
        "/api/v1/models/import/",
        {"name": "trap", "archive": SimpleUploadedFile("m.zip", archive.getvalue())},
        format="multipart",
    )
    assert 400 <= zipped.status_code < 500, zipped.content
    page = browser_for(alice).post(
        "/models/import/",
        {"name": "trap", "archive": SimpleUploadedFile("m.zip", archive.getvalue())},
        follow=True,
    )
    assert page.status_code == 200 and "model-list" not in page.content.decode()
    from automl.registry.models import ModelVersion

    assert not ModelVersion.objects.filter(owner=alice).exists()
    assert not marker.exists()


def _trapped_model_dir(path: Path, trap: bytes) -> Path:
    """A model directory whose weights file is the trap, its recorded hash made to match
    (a store that someone wrote to): only the loader stands in the way."""
    mlp_dir(path)
    spec = json.loads((path / "spec.json").read_text())
    weights = path / spec["file"]
    weights.write_bytes(trap)
    import hashlib

    spec.update(sha256=hashlib.sha256(trap).hexdigest(), size=len(trap))
    (path / "spec.json").write_text(json.dumps(spec))
    return path


def test_model_load_and_compression_input_refuse_it(trap, marker, tmp_path):
    from workers.compression.store import load_compressed
    from workers.models.artifacts import load_model

    directory = _trapped_model_dir(tmp_path / "mlp", trap)
    for load in (load_model, load_compressed):
        with pytest.raises(Exception, match="(?i)header|safetensor|deserializ"):
            load(directory)
    assert not marker.exists()


def _code_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "platform", "workers", "bench", "manage.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / p for p in listed.split() if p.endswith(".py")]


def _arguments(text: str, start: int) -> str:
    """The text between the parenthesis at `start` and the one that closes it."""
    depth = 0
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            return text[start + 1 : end]
    return text[start + 1 :]


def test_no_code_unpickles():
    wrong = []
    for path in _code_files():
        text = path.read_text()
        for call in re.finditer(r"\btorch\.load\(", text):
            if "weights_only=True" not in _arguments(text, call.end() - 1):
                wrong.append(f"{path}: torch.load without weights_only=True")
        for call in re.finditer(r"\b(?:np|numpy)\.load\(", text):
            if "allow_pickle=False" not in _arguments(text, call.end() - 1):
                wrong.append(f"{path}: np.load without allow_pickle=False")
        for banned in (
            r"\bpickle\.loads?\(",
            r"\bjoblib\.load\(",
            r"\bdill\.",
            r"\bcloudpickle\.",
        ):
            if re.search(banned, text):
                wrong.append(f"{path}: {banned}")
    assert len(_code_files()) > 50
    assert not wrong, wrong


def test_an_npz_of_pickled_objects_is_refused(alice_api, artifacts):
    buffer = io.BytesIO()
    np.savez(buffer, X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    response = upload(alice_api, "objects.npz", buffer.getvalue())
    assert response.status_code == 400
    assert "pickle" in json.dumps(response.json())
    assert stored_files(artifacts) == []


def test_upload_limits_are_enforced_and_named(alice, alice_api, artifacts, settings, model_store):
    settings.DATASET_MAX_UPLOAD_BYTES = 1000
    response = upload(alice_api, "big.csv", IRIS_LIKE * 3)
    assert response.status_code == 413 and "1000 bytes" in response.json()["detail"]
    assert stored_files(artifacts) == []
    page = browser_for(alice).post(
        "/datasets/",
        {"file": SimpleUploadedFile("big.csv", (IRIS_LIKE * 3).encode()), "target": "species"},
    )
    assert page.status_code == 413 and "1000 bytes" in page.content.decode()
    settings.MODEL_MAX_UPLOAD_BYTES = 500
    response = alice_api.post(
        "/api/v1/models/import/",
        {"name": "big", "archive": SimpleUploadedFile("m.zip", b"0" * 600)},
        format="multipart",
    )
    assert response.status_code == 413
    assert "MODEL_MAX_UPLOAD_BYTES (500 bytes)" in response.json()["detail"]
    page = browser_for(alice).post(
        "/models/import/",
        {"name": "big", "archive": SimpleUploadedFile("m.zip", b"0" * 600)},
        follow=True,
    )
    assert "500 bytes" in page.content.decode()


@pytest.mark.parametrize("name", ["../../etc/x.csv", "..\\..\\x.csv", "/etc/x.csv"])
def test_a_path_as_file_name_is_refused(name, alice_api, artifacts, tmp_path):
    response = raw_multipart(alice_api, name, IRIS_LIKE.encode(), target="species")
    assert response.status_code == 400 and "file" in response.json()["fields"]
    assert stored_files(artifacts) == []
    assert not (tmp_path / "etc").exists() and not (artifacts.parent / "x.csv").exists()


def test_stored_names_never_come_from_the_client(alice_api, artifacts):
    response = upload(alice_api, "My Data; rm -rf.csv", IRIS_LIKE, target="species")
    assert response.status_code == 201, response.content
    files = [p for p in stored_files(artifacts) if p.is_file()]
    assert files and not any("My Data" in str(p) or "rm -rf" in str(p) for p in files)
    assert response.json()["original_filename"] == "My Data; rm -rf.csv"  # shown, never a path
