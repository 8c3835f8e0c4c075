"""A compressed model is scored on the rows its input model never trained on."""

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.support.factories import make_job, mlp_dir, register
from workers.compression.common import split
from workers.compression.config import validate_compression_config
from workers.data.builtin import load_builtin
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import search_and_test
from workers.nas.config import validate_nas_config
from workers.nas.engine import prepare


def _rows(X) -> set[tuple]:
    # float32: what the torch engines hold; the same row is the same float32 values.
    return {tuple(np.asarray(r, dtype=np.float32).ravel()) for r in X}


def mlp_spec(data) -> dict:
    # A spec without statistics: the split's rows stay the data set's values.
    n_features = data.X.shape[1]
    return {
        "kind": "mlp",
        "config": {"n_features": n_features},
        "classes": np.unique(data.y).tolist(),
    }


@pytest.mark.parametrize("test_size, seed", [(0.2, 0), (0.3, 7)])
def test_hpo_nas_and_compression_hold_out_the_same_test_rows(test_size, seed):
    data = load_builtin("wine")
    # Wine has no duplicate rows, so comparing row values compares row indices.
    assert len(_rows(data.X)) == len(data.X)
    split_settings = {"test_size": test_size, "seed": seed}
    hpo = validate_hpo_config(split_settings, "classification")
    hpo_test = search_and_test(hpo, data)[1].X
    nas = prepare(validate_nas_config({**split_settings, "valid_size": 0.25}, "tabular"), data)

    def compression_split(seed: int):
        config = {**split_settings, "valid_size": 0.25, "seed": seed}
        chain = validate_compression_config({"model_version": 1, "steps": ["half"], **config})
        return split(chain, data, mlp_spec(data))

    compression = compression_split(seed)
    assert _rows(hpo_test) == _rows(nas.raw_test) == _rows(compression.x["test"].numpy())
    other = compression_split(seed + 1)
    assert _rows(other.x["test"].numpy()) != _rows(hpo_test)  # the seed does matter


@pytest.mark.django_db
def test_a_compression_job_inherits_its_input_models_split(alice, iris, tmp_path, model_store):
    parent = make_job(alice, iris, status="succeeded", config={"test_size": 0.3, "seed": 11})
    version = register(alice, mlp_dir(tmp_path / "m"), job=parent)
    api = APIClient()
    api.force_authenticate(alice)
    steps = [{"technique": "dynamic_int8"}]

    def submit(**config):
        body = {
            "kind": "compression",
            "dataset": iris.id,
            "config": {"model_version": version.id, "steps": steps, **config},
        }
        response = api.post("/api/v1/jobs/", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["config"]

    inherited = submit()
    assert (inherited["test_size"], inherited["seed"]) == (0.3, 11)
    assert submit(seed=2)["seed"] == 2  # what the user sets wins


@pytest.mark.django_db
def test_nothing_is_inherited_on_another_data_set(alice, iris, tmp_path, model_store):
    from automl.datasets.models import Dataset

    wine = Dataset.objects.get(builtin_name="wine")
    parent = make_job(alice, wine, status="succeeded", config={"test_size": 0.3, "seed": 11})
    version = register(alice, mlp_dir(tmp_path / "m"), job=parent)
    api = APIClient()
    api.force_authenticate(alice)
    body = {
        "kind": "compression",
        "dataset": iris.id,
        "config": {"model_version": version.id, "steps": [{"technique": "half"}]},
    }
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["config"]["test_size"], response.json()["config"]["seed"]) == (0.2, 0)
