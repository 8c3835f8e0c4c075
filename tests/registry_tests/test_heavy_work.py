"""Exports and bundles run one at a time per web process with a bounded wait (a 503
"busy, retry" after it), and never hold up /healthz or other requests."""

import threading

import pytest
from rest_framework.test import APIClient

from tests.support.api import client_for
from tests.support.factories import mlp_dir, register

# Requests in threads use their own database connections: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_export_in_progress_leaves_probes_free_and_answers_others_busy(
    alice, tmp_path, model_store, monkeypatch, settings
):
    import workers.models.export as export

    settings.HEAVY_WORK_WAIT_S = 0.1
    version = register(alice, mlp_dir(tmp_path / "m"), name="iris-mlp")
    started, release = threading.Event(), threading.Event()

    def slow_onnx(directory, target):  # an export that lasts until the test lets it end
        started.set()
        assert release.wait(60)
        target.write_bytes(b"onnx bytes")
        return target

    monkeypatch.setattr(export, "to_onnx", slow_onnx)
    first = client_for(alice)
    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=first._credentials["HTTP_AUTHORIZATION"])
    answers = {}
    exporting = threading.Thread(
        target=lambda: answers.setdefault(
            "first", first.get(f"/api/v1/models/{version.id}/export/onnx/")
        )
    )
    exporting.start()
    try:
        assert started.wait(60)
        assert second.get("/healthz").status_code == 200
        assert second.get(f"/api/v1/models/{version.id}/").status_code == 200
        busy = second.get(f"/api/v1/models/{version.id}/bundle/")
        assert busy.status_code == 503 and busy["Retry-After"] == "5"
        assert busy.json()["error"] == "busy" and "retry the bundle" in busy.json()["detail"]
    finally:
        release.set()
        exporting.join(60)
    assert answers["first"].status_code == 200
    assert b"".join(answers["first"].streaming_content) == b"onnx bytes"
    # Its turn over, the next heavy request runs.
    assert second.get(f"/api/v1/models/{version.id}/export/onnx/").status_code == 200
