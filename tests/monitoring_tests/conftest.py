"""A served iris model with training reference statistics, and its deployment."""

import json

import pytest

from tests.support.factories import FEATURES, forest_dir, iris_xy, register
from workers.data.reference import reference_stats


@pytest.fixture
def version(alice, tmp_path, model_store):
    directory = forest_dir(tmp_path / "v1")
    X, _ = iris_xy()
    (directory / "reference.json").write_text(json.dumps(reference_stats(X, FEATURES)))
    return register(alice, directory, name="iris")


@pytest.fixture
def deployment(alice, version):
    from automl.serving.traffic import create_deployment

    return create_deployment(
        alice,
        name="iris-live",
        model_name="iris",
        routes=[{"version": version.id, "weight": 1}],
        cache_ttl_s=0,
    )
