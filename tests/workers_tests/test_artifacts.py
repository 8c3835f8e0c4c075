import contextlib
import json
import os
import pickle
from dataclasses import asdict

import numpy as np
import pytest
import skops.io as sio
import torch
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from workers.data.builtin import load_builtin
from workers.data.splits import holdout_split
from workers.models.artifacts import (
    IntegrityError,
    TorchPredictor,
    UntrustedTypesError,
    load_model,
    load_transformer,
    save_model,
    save_transformer,
    scaling_spec,
)
from workers.models.kinds import build_torch
from workers.training.cnn import CNN, CNNConfig, train_cnn
from workers.training.mlp import MLP, MLPConfig, train_mlp


@contextlib.contextmanager
def no_pickle():
    """Any pickle or torch.save/torch.load call inside the block fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    with pytest.MonkeyPatch.context() as m:
        for name in ("dump", "dumps", "load", "loads"):
            m.setattr(pickle, name, refuse)
        m.setattr(torch, "save", refuse)
        m.setattr(torch, "load", refuse)
        yield


def assert_no_pickle_files(directory):
    names = sorted(p.name for p in directory.iterdir())
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".pt", ".pth", ".joblib"))]
    return names


@pytest.fixture(scope="module")
def iris():
    return holdout_split(load_builtin("iris"), 0.25, seed=0)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_it_round_trips_a_trained_mlp(tmp_path, task):
    split = holdout_split(
        load_builtin("iris" if task == "classification" else "diabetes"), 0.25, seed=0
    )
    classes = np.unique(split.y_train)
    y_tr, y_va = split.y_train, split.y_valid
    if task == "classification":
        y_tr, y_va = np.searchsorted(classes, y_tr), np.searchsorted(classes, y_va)
    config = MLPConfig(
        split.X_train.shape[1],
        3 if task == "classification" else 1,
        hidden_layers=2,
        hidden_units=16,
        dropout=0.1,
    )
    model = MLP(config)
    expected = train_mlp(
        model,
        split.X_train,
        y_tr,
        split.X_valid,
        y_va,
        task=task,
        epochs=3,
        lr=0.01,
        batch_size=16,
        weight_decay=0.0,
        seed=0,
    )
    spec = {"kind": "mlp", "config": asdict(config), "task": task}
    if task == "classification":
        spec.update(scaling_spec(split.X_train), classes=classes)
    else:
        spec.update(scaling_spec(split.X_train, split.y_train))

    with no_pickle():
        files = save_model(model, tmp_path, family="mlp", spec=spec)
        loaded = load_model(tmp_path)

    assert files == ["weights.safetensors", "spec.json"]
    assert assert_no_pickle_files(tmp_path) == ["spec.json", "weights.safetensors"]
    stored = json.loads((tmp_path / "spec.json").read_text())
    assert stored["family"] == "mlp" and stored["framework"] == "torch"
    assert stored["size"] == (tmp_path / "weights.safetensors").stat().st_size
    assert isinstance(loaded, TorchPredictor)
    assert not loaded.module.training
    if task == "classification":
        assert np.array_equal(loaded.predict(split.X_valid), classes[expected])
        proba = loaded.predict_proba(split.X_valid)
        assert proba.shape == (len(split.X_valid), 3)
        assert np.allclose(proba.sum(axis=1), 1.0)
    else:
        assert np.array_equal(loaded.predict(split.X_valid), expected)


def test_it_round_trips_a_trained_cnn(tmp_path):
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 8, 8)[:300]
    y = y[:300]
    config = CNNConfig(in_channels=1, height=8, width=8, n_outputs=10, channels=(4, 8))
    model = CNN(config)
    expected = train_cnn(
        model,
        X[:200],
        y[:200],
        X[200:],
        y[200:],
        epochs=2,
        lr=0.01,
        batch_size=32,
        weight_decay=0.0,
        seed=0,
    )

    with no_pickle():
        save_model(
            model, tmp_path / "cnn", family="cnn", spec={"kind": "cnn", "config": asdict(config)}
        )
        loaded = load_model(tmp_path / "cnn")

    assert np.array_equal(loaded.predict(X[200:]), expected)  # N x H x W
    assert np.array_equal(loaded.predict(X[200:, None]), expected)  # N x 1 x H x W
    before = {k: v.clone() for k, v in model.state_dict().items()}
    after = loaded.module.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_spec_that_does_not_rebuild_the_model_is_refused_at_save(tmp_path):
    config = CNNConfig(in_channels=1, height=8, width=8, n_outputs=10)
    wrong = asdict(config) | {"channels": (4, 8)}
    with pytest.raises(RuntimeError):
        save_model(CNN(config), tmp_path, family="cnn", spec={"kind": "cnn", "config": wrong})
    assert not (tmp_path / "spec.json").exists()


def test_build_torch_names_an_unknown_kind():
    with pytest.raises(ValueError, match="'transformer'"):
        build_torch({"kind": "transformer", "config": {}})
    with pytest.raises(ValueError, match="unknown fields"):
        build_torch({"kind": "mlp", "config": {"n_features": 2, "bogus": 1}})


SKLEARN_MODELS = {
    "random_forest": lambda: RandomForestClassifier(n_estimators=10, random_state=0),
    "logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=10),
    "svc": lambda: SVC(),
    "knn": lambda: KNeighborsClassifier(algorithm="kd_tree"),
}


@pytest.mark.parametrize("family", sorted(SKLEARN_MODELS))
def test_it_round_trips_sklearn_models(tmp_path, iris, family):
    model = SKLEARN_MODELS[family]().fit(iris.X_train, iris.y_train)

    with no_pickle():
        files = save_model(model, tmp_path, family=family, spec={"params": {"seed": 0}})
        loaded = load_model(tmp_path)

    assert files == ["model.skops", "spec.json"]
    assert assert_no_pickle_files(tmp_path) == ["model.skops", "spec.json"]
    assert json.loads((tmp_path / "spec.json").read_text())["framework"] == "sklearn"
    assert type(loaded) is type(model)
    assert np.array_equal(loaded.predict(iris.X_valid), model.predict(iris.X_valid))


def test_it_round_trips_a_column_transformer(tmp_path):
    X = np.array([[1.0, 0], [np.nan, 1], [3.0, 2], [4.0, 1]])
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), [0]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), [1]),
        ]
    ).fit(X)

    with no_pickle():
        files = save_transformer(ct, tmp_path)
        loaded = load_transformer(tmp_path)

    assert files == ["preprocessing.skops", "preprocessing.json"]
    assert np.array_equal(loaded.transform(X), ct.transform(X))


def test_a_tampered_weights_file_is_refused(tmp_path):
    config = MLPConfig(4, 3, hidden_layers=1, hidden_units=8, dropout=0.0)
    save_model(MLP(config), tmp_path, family="mlp", spec={"kind": "mlp", "config": asdict(config)})
    data = bytearray((tmp_path / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF  # same size, different bytes
    (tmp_path / "weights.safetensors").write_bytes(bytes(data))

    with pytest.raises(IntegrityError, match="sha256"):
        load_model(tmp_path)


def test_a_tampered_skops_file_is_refused(tmp_path, iris):
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(iris.X_train, iris.y_train)
    save_model(model, tmp_path, family="random_forest", spec={})
    with (tmp_path / "model.skops").open("ab") as f:
        f.write(b"\0")

    with pytest.raises(IntegrityError):
        load_model(tmp_path)


def test_a_skops_file_with_a_type_outside_the_allow_list_is_refused(tmp_path):
    evil = make_pipeline(FunctionTransformer(os.system), LogisticRegression())  # never called
    model_file = tmp_path / "model.skops"
    sio.dump(evil, model_file)
    # An attacker who can write the directory can also write a matching spec.
    from workers.models import artifacts

    spec = {
        "family": "logistic_regression",
        "framework": "sklearn",
        "format_version": 1,
        **artifacts.file_record(model_file),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))

    with pytest.raises(UntrustedTypesError, match=r"system") as info:
        load_model(tmp_path)
    assert any("system" in t for t in info.value.types)


def test_saving_a_type_outside_the_allow_list_is_refused(tmp_path):
    transformer = FunctionTransformer(os.system).fit(np.zeros((2, 1)))
    with pytest.raises(UntrustedTypesError, match="system"):
        save_transformer(transformer, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_objects_and_bad_names_are_refused(tmp_path):
    with pytest.raises(TypeError):
        save_model(object(), tmp_path, family="x", spec={})
    with pytest.raises(ValueError):
        save_transformer(StandardScaler().fit([[1.0]]), tmp_path, name="../escape")


def test_a_calibrated_svm_saves_and_reloads(tmp_path, iris):
    # What HPO refits for an SVM under roc_auc or log_loss (probabilities through a sigmoid).
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    X, y = iris.X_train, iris.y_train
    model = CalibratedClassifierCV(SVC(), method="sigmoid", cv=3, ensemble=False).fit(X, y)
    save_model(model, tmp_path, family="svm", spec={"task": "classification"})
    reloaded = load_model(tmp_path)
    np.testing.assert_allclose(reloaded.predict_proba(X), model.predict_proba(X))
