"""Job configs on uploads: target and task overrides, preprocessing keys, training data."""

import pytest

from automl.datasets import services
from automl.datasets.models import Dataset
from tests.support.api import submit, upload
from workers.data.preprocess import DEFAULTS

pytestmark = pytest.mark.django_db

SALES = "day,store,price,promo,units\n" + "".join(
    f"2024-0{1 + i % 9}-{10 + i % 18} {i % 24:02d}:00,{['north', 'south', 'east'][i % 3]},"
    f"{3 + i % 7 * 0.5:.1f},{'yes' if i % 4 == 0 else 'no'},{20 + (i * 7) % 13}\n"
    for i in range(80)
)


@pytest.fixture
def sales(alice_api, artifacts) -> int:
    response = upload(alice_api, "sales.csv", SALES, target="units", task="regression")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def submit_hpo(api, dataset_id, **config):
    return submit(api, "hpo", dataset_id, {"n_trials": 1, **config})


def test_a_job_takes_the_data_sets_task_and_preprocessing(alice_api, sales):
    response = submit_hpo(
        alice_api,
        sales,
        model="ridge",
        preprocessing={"scaling": "robust", "polynomial": "search"},
    )
    assert response.status_code == 201, response.content
    config = response.json()["config"]
    assert config["task"] == "regression" and config["target"] is None
    assert config["preprocessing"]["scaling"] == "robust"
    assert config["preprocessing"]["polynomial"] == "search"


def test_another_target_column_changes_the_task(alice_api, sales):
    response = submit_hpo(
        alice_api, sales, target="store", model="random_forest", preprocessing={"drop": ["day"]}
    )
    assert response.status_code == 201, response.content
    config = response.json()["config"]
    assert (config["task"], config["target"]) == ("classification", "store")
    data = services.training_data(Dataset.objects.get(id=sales), config)
    assert data.feature_names == ["price", "promo", "units"]
    assert data.classes == ["east", "north", "south"] and set(data.y) == {0, 1, 2}


BAD_CONFIGS = {
    "unknown_target": ({"target": "weather"}, "config.target", "no column named 'weather'"),
    "regression_on_text": (
        {"target": "store", "task": "regression"},
        "config.target",
        "is not numeric (categorical)",
    ),
    "drop_unknown": (
        {"preprocessing": {"drop": ["nope"]}},
        "config.preprocessing.drop",
        "no column named 'nope'",
    ),
    "drop_target": (
        {"target": "price", "preprocessing": {"drop": ["price"]}},
        "config.preprocessing.drop",
        "cannot be dropped",
    ),
    "bad_scaling": (
        {"preprocessing": {"scaling": "zscore"}},
        "config.preprocessing.scaling",
        "must be one of standard, minmax, robust, none",
    ),
    "bad_switch": (
        {"preprocessing": {"polynomial": True}},
        "config.preprocessing.polynomial",
        "must be one of",
    ),
    "unknown_key": ({"preprocessing": {"pca": 3}}, "config.preprocessing.pca", "unknown key"),
    "date_target": ({"target": "day"}, "config.target", "holds dates"),
}


@pytest.mark.parametrize("config,field,words", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_data_configs_are_400s_naming_the_field(alice_api, sales, config, field, words):
    response = submit_hpo(alice_api, sales, **config)
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()["fields"][field])


def test_builtin_targets_are_fixed(alice_api, iris):
    response = submit_hpo(alice_api, iris.id, target="petal length (cm)")
    assert response.status_code == 400
    assert "target is fixed" in response.json()["fields"]["config.target"][0]


def test_builtins_keep_working_without_preprocessing(alice_api, iris):
    response = submit_hpo(alice_api, iris.id, model="logistic_regression")
    assert response.status_code == 201
    config = response.json()["config"]
    assert config["preprocessing"] is None
    data = services.training_data(iris, config)
    assert data.make_transformer is None and data.feature_space == {}


def test_training_data_of_an_upload_brings_its_preprocessing(sales):
    preprocessing = {**DEFAULTS, "datetime_parts": "search", "target_encoding": "search"}
    data = services.training_data(
        Dataset.objects.get(id=sales), {"task": "regression", "preprocessing": preprocessing}
    )
    assert data.X.dtype == object and data.X.shape == (80, 4)
    assert data.column_kinds == ["datetime", "categorical", "numeric", "boolean"]
    assert set(data.feature_space) == {"datetime_parts", "target_encoding"}
    transformer = data.make_transformer({"fe.datetime_parts": True})
    features = transformer.fit(data.X, data.y).transform(data.X)
    assert features.dtype == "float64" and features.shape == (80, 4 + 3 + 1 + 1)
