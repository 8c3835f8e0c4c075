"""Model imports are refused before the work: a spec over the parameter budget before any
module is built, weights whose header does not fit the spec before they are read, a body
over the limit from its Content-Length (or while it streams to disk), a zip that unpacks
to too much; each a 4xx naming the limit and its value."""

import io
import json
import os
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from automl.registry.models import ModelVersion
from tests.support.factories import mlp_dir

pytestmark = pytest.mark.django_db


def _import(api, **files):
    return api.post("/api/v1/models/import/", {"name": "big", **files}, format="multipart")


def _spec(tmp_path) -> tuple[dict, bytes]:
    directory = mlp_dir(tmp_path / "m")
    return json.loads((directory / "spec.json").read_text()), (
        directory / "weights.safetensors"
    ).read_bytes()


def test_a_spec_over_the_parameter_budget_is_refused_before_building(
    alice_api, tmp_path, model_store, monkeypatch
):
    spec, weights = _spec(tmp_path)
    huge = {**spec, "config": {**spec["config"], "hidden_units": 16384, "hidden_layers": 30}}
    # A real (not meta) parameter of the huge size would be allocated on the CPU device.
    real = torch.nn.Parameter.__new__

    def no_real_parameters(cls, data=None, requires_grad=True):
        assert data is None or data.device.type == "meta" or data.numel() < 10**6
        return real(cls, data, requires_grad)

    monkeypatch.setattr(torch.nn.Parameter, "__new__", no_real_parameters)
    response = _import(
        alice_api, spec=io.BytesIO(json.dumps(huge).encode()), weights=io.BytesIO(weights)
    )
    assert response.status_code == 400, response.json()
    assert "MODEL_MAX_PARAMETERS (50000000)" in response.json()["fields"]["spec"][0]
    assert not ModelVersion.objects.exists()


def test_weights_of_another_dtype_are_refused_from_the_header(alice_api, tmp_path, model_store):
    spec, _ = _spec(tmp_path)
    directory = mlp_dir(tmp_path / "m2")
    from safetensors.torch import load_file

    doubled = {k: v.double() for k, v in load_file(directory / "weights.safetensors").items()}
    save_file(doubled, tmp_path / "double.safetensors")
    response = _import(
        alice_api,
        spec=io.BytesIO(json.dumps(spec).encode()),
        weights=(tmp_path / "double.safetensors").open("rb"),
    )
    assert response.status_code == 400
    assert "is F64, the spec needs F32" in response.json()["fields"]["weights"][0]


def test_a_body_over_the_limit_is_refused_from_its_content_length(
    alice_api, tmp_path, model_store, settings, monkeypatch
):
    from automl.datasets.uploads import BodyLimitHandler

    settings.MODEL_MAX_UPLOAD_BYTES = settings.DATASET_MAX_UPLOAD_BYTES = 1000
    monkeypatch.setattr(
        BodyLimitHandler, "new_file", lambda *a, **k: pytest.fail("the body was read")
    )
    response = _import(alice_api, archive=io.BytesIO(b"x" * 200_000))
    assert response.status_code == 413
    assert "MODEL_MAX_UPLOAD_BYTES (1000)" in response.json()["detail"]


def test_a_body_without_a_length_is_refused_while_it_streams(rf, settings):
    from automl.datasets.uploads import BodyLimitHandler, PayloadTooLarge

    settings.MODEL_MAX_UPLOAD_BYTES = settings.DATASET_MAX_UPLOAD_BYTES = 1000
    handler = BodyLimitHandler(rf.post("/"))
    handler.handle_raw_input(None, {}, None, "boundary")
    handler.new_file("archive", "a.zip", "application/zip", None)
    handler.receive_data_chunk(b"x" * 600, 0)
    with pytest.raises(PayloadTooLarge, match="1000 bytes"):
        handler.receive_data_chunk(b"x" * 600, 600)
    handler.upload_interrupted()


def _zip(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_a_zip_bomb_is_refused_by_its_ratio(alice_api, tmp_path, model_store):
    spec, weights = _spec(tmp_path)
    bomb = _zip({"spec.json": json.dumps(spec).encode(), "weights.safetensors": bytes(10**7)})
    response = _import(alice_api, archive=bomb)
    assert response.status_code == 400
    assert "MODEL_MAX_ZIP_RATIO (100" in response.json()["fields"]["archive"][0]


def test_a_zip_that_unpacks_past_the_limit_is_refused(alice_api, tmp_path, model_store, settings):
    spec, _ = _spec(tmp_path)
    card = os.urandom(20_000).hex().encode()  # packs to about half: under the ratio
    archive = _zip({"spec.json": json.dumps(spec).encode(), "model_card.md": card})
    settings.MODEL_MAX_UPLOAD_BYTES = 30_000  # the zip is smaller, its contents larger
    assert len(archive.getvalue()) < 30_000 < len(card)
    response = _import(alice_api, archive=archive)
    assert response.status_code == 400
    assert "MODEL_MAX_UPLOAD_BYTES (30000 bytes)" in response.json()["fields"]["archive"][0]


def test_a_spec_over_its_limit_is_not_read(alice_api, tmp_path, model_store, settings):
    spec, weights = _spec(tmp_path)
    settings.MODEL_MAX_SPEC_BYTES = 100
    response = _import(
        alice_api, spec=io.BytesIO(json.dumps(spec).encode()), weights=io.BytesIO(weights)
    )
    assert response.status_code == 400
    assert "MODEL_MAX_SPEC_BYTES (100 bytes)" in response.json()["fields"]["spec"][0]
