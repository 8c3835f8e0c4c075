"""Small real models on iris, saved as model directories, and a clean model store."""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from workers.models.artifacts import save_model, save_transformer, scaling_spec
from workers.training.mlp import MLP, MLPConfig

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris():
    data = load_iris()
    return data.data, data.target


def rows(X: np.ndarray) -> list[dict]:
    return [dict(zip(FEATURES, map(float, x), strict=True)) for x in X]


def forest_dir(
    path: Path, *, seed: int = 0, n_estimators: int = 5, preprocessing: bool = False
) -> Path:
    """A random forest (or, with preprocessing, a scaled logistic regression) on iris."""
    X, y = iris()
    spec = {"task": "classification", "features": FEATURES, "params": {}}
    if preprocessing:
        scaler = StandardScaler().fit(X)
        model = LogisticRegression(max_iter=500).fit(scaler.transform(X), y)
        save_model(model, path, family="logistic_regression", spec=spec)
        save_transformer(scaler, path)
    else:
        model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed).fit(X, y)
        save_model(model, path, family="random_forest", spec=spec)
    return path


def mlp_dir(path: Path, *, seed: int = 0) -> Path:
    """A small torch MLP on iris, trained for a few steps (its answers need not be good)."""
    X, y = iris()
    torch.manual_seed(seed)
    config = MLPConfig(n_features=4, n_outputs=3, hidden_layers=1, hidden_units=8, dropout=0.0)
    module = MLP(config)
    spec = {
        "kind": "mlp",
        "config": vars(config),
        "task": "classification",
        "classes": [0, 1, 2],
        "features": FEATURES,
        **scaling_spec(X),
    }
    optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
    x = torch.as_tensor(
        (X - np.asarray(spec["input_mean"])) / np.asarray(spec["input_std"]), dtype=torch.float32
    )
    for _ in range(30):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(module(x), torch.as_tensor(y)).backward()
        optimiser.step()
    save_model(module, path, family="mlp", spec=spec)
    return path


def register(owner, directory: Path, name: str = "iris-model", **fields):
    from automl.registry.models import ModelVersion
    from automl.registry.services import create_version

    return create_version(owner, directory, name=name, source=ModelVersion.Source.IMPORT, **fields)


@pytest.fixture
def model_store(settings, tmp_path):
    """A fresh model store, and no model or answer cached from another test."""
    from automl.serving import cache
    from automl.serving.loader import model_cache

    settings.MODEL_STORE_ROOT = tmp_path / "store"
    model_cache().clear()
    cache.clear()
    yield settings.MODEL_STORE_ROOT
    model_cache().clear()
    cache.clear()
