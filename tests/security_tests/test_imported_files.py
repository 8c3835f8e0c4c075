"""Bring your own model: a crafted file of each importable kind would run code (or read
memory or files it should not) if loaded carelessly; each is refused with a 4xx naming
why, and nothing ran (the marker file its payload writes never appears)."""

import io
import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from automl.registry.models import ModelVersion
from tests.support.api import browser_for
from tests.support.skops_trap import MarkerWriter

pytestmark = pytest.mark.django_db
TRAP_TYPE = "tests.support.skops_trap.MarkerWriter"


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "pwned.txt"


@pytest.fixture
def skops_trap(marker, tmp_path):
    """A pipeline whose first step writes `marker` when skops restores it."""
    X, y = np.random.default_rng(0).random((10, 2)), [0, 1] * 5
    pipeline = make_pipeline(MarkerWriter(str(marker)), LogisticRegression()).fit(X, y)
    path = tmp_path / "evil.skops"
    sio.dump(pipeline, path)
    return path


def test_the_skops_trap_runs_when_its_type_is_trusted(skops_trap, marker):
    """The file is live: trusting what it asks for writes the marker (so the tests below
    can fail)."""
    assert sio.get_untrusted_types(file=skops_trap) == [TRAP_TYPE]
    sio.load(skops_trap, trusted=[TRAP_TYPE])
    assert marker.read_text() == "pwned"


def test_a_skops_pipeline_with_a_type_outside_the_allow_list_is_refused_naming_it(
    alice, alice_api, skops_trap, marker, model_store
):
    spec = {"task": "classification", "features": ["a", "b"]}
    response = alice_api.post(
        "/api/v1/models/import/",
        {
            "name": "evil",
            "spec": io.BytesIO(json.dumps(spec).encode()),
            "skops": skops_trap.open("rb"),
        },
        format="multipart",
    )
    assert response.status_code == 400, response.json()
    assert TRAP_TYPE in response.json()["fields"]["files"][0]
    page = browser_for(alice).post(
        "/models/import/",
        {
            "name": "evil",
            "spec": io.BytesIO(json.dumps(spec).encode()),
            "skops": skops_trap.open("rb"),
        },
        follow=True,
    )
    assert TRAP_TYPE in page.content.decode()
    assert not ModelVersion.objects.exists()
    assert not marker.exists()
