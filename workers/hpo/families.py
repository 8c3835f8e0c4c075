"""Model families that HPO can tune, registered by name."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workers.data.splits import Split
from workers.hpo.metrics import score

ReportFn = Callable[[int, float], None]


def _float(low: float, high: float, log: bool = False) -> dict:
    return {"type": "float", "low": low, "high": high, "log": log, "step": None}


def _int(low: int, high: int, log: bool = False) -> dict:
    return {"type": "int", "low": low, "high": high, "log": log, "step": None}


def _categorical(choices: list) -> dict:
    return {"type": "categorical", "choices": choices, "conditional": {}}


def _fixed(value: object) -> dict:
    return {"type": "fixed", "value": value}


class ModelFamily:
    """A kind of model: its default search space and how to score one setting."""

    name: str = ""
    tasks: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # names a search space may set; missing ones use defaults

    def default_space(self, task: str) -> dict:
        raise NotImplementedError

    def fit_score(
        self, params: dict, split: Split, task: str, metric: str, seed: int, report: ReportFn
    ) -> float:
        """Train on split's train rows, return the metric on its validation rows."""
        raise NotImplementedError


FAMILIES: dict[str, ModelFamily] = {}


def register(cls: type[ModelFamily]) -> type[ModelFamily]:
    FAMILIES[cls.name] = cls()
    return cls


def families_for(task: str) -> list[str]:
    return [name for name, fam in FAMILIES.items() if task in fam.tasks]


class _SklearnFamily(ModelFamily):
    """Families whose estimator is fitted once (no intermediate values)."""

    def make(self, params: dict, task: str, seed: int) -> BaseEstimator:
        raise NotImplementedError

    def fit_score(
        self, params: dict, split: Split, task: str, metric: str, seed: int, report: ReportFn
    ) -> float:
        model = self.make(params, task, seed).fit(split.X_train, split.y_train)
        return score(metric, split.y_valid, model.predict(split.X_valid))


@register
class LogisticRegressionFamily(_SklearnFamily):
    name = "logistic_regression"
    tasks = ("classification",)
    params = ("C",)

    def default_space(self, task: str) -> dict:
        return {"C": _float(1e-3, 1e3, log=True)}

    def make(self, params: dict, task: str, seed: int) -> BaseEstimator:
        clf = LogisticRegression(C=params.get("C", 1.0), max_iter=1000, random_state=seed)
        return make_pipeline(StandardScaler(), clf)


@register
class RidgeFamily(_SklearnFamily):
    name = "ridge"
    tasks = ("regression",)
    params = ("alpha",)

    def default_space(self, task: str) -> dict:
        return {"alpha": _float(1e-3, 1e3, log=True)}

    def make(self, params: dict, task: str, seed: int) -> BaseEstimator:
        return make_pipeline(StandardScaler(), Ridge(alpha=params.get("alpha", 1.0)))


@register
class RandomForestFamily(_SklearnFamily):
    name = "random_forest"
    tasks = ("classification", "regression")
    params = ("n_estimators", "max_depth", "min_samples_leaf")

    def default_space(self, task: str) -> dict:
        return {
            "n_estimators": _int(10, 200, log=True),
            "max_depth": _int(2, 20, log=True),
            "min_samples_leaf": _int(1, 10),
        }

    def make(self, params: dict, task: str, seed: int) -> BaseEstimator:
        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(
            n_estimators=params.get("n_estimators", 100),
            max_depth=params.get("max_depth"),
            min_samples_leaf=params.get("min_samples_leaf", 1),
            random_state=seed,
            n_jobs=1,  # the worker decides parallelism, not each model
        )


@register
class MLPFamily(ModelFamily):
    name = "mlp"
    tasks = ("classification", "regression")
    params = (
        "hidden_layers", "hidden_units", "activation", "dropout",
        "lr", "batch_size", "weight_decay", "epochs",
    )  # fmt: skip

    def default_space(self, task: str) -> dict:
        return {
            "hidden_layers": _int(1, 3),
            "hidden_units": _int(16, 128, log=True),
            "lr": _float(1e-4, 1e-1, log=True),
            "batch_size": _categorical([16, 32, 64]),
            "dropout": _float(0.0, 0.5),
            "weight_decay": _fixed(0.0),
            "epochs": _fixed(20),
        }

    def fit_score(
        self, params: dict, split: Split, task: str, metric: str, seed: int, report: ReportFn
    ) -> float:
        # Imported here so that validating configs (web process) never loads torch.
        from workers.training.mlp import MLP, MLPConfig, train_mlp

        classify = task == "classification"
        y_train, y_valid = split.y_train, split.y_valid
        if classify:  # the network wants class indices 0..k-1
            classes = np.unique(np.concatenate([y_train, y_valid]))
            y_train, y_valid = np.searchsorted(classes, y_train), np.searchsorted(classes, y_valid)

        def decode(pred: np.ndarray) -> np.ndarray:
            return classes[pred] if classify else pred

        model = MLP(
            MLPConfig(
                n_features=split.X_train.shape[1],
                n_outputs=len(classes) if classify else 1,
                hidden_layers=int(params.get("hidden_layers", 2)),
                hidden_units=int(params.get("hidden_units", 64)),
                dropout=float(params.get("dropout", 0.0)),
                activation=str(params.get("activation", "relu")),
            )
        )
        predictions = train_mlp(
            model, split.X_train, y_train, split.X_valid, y_valid,
            task=task,
            epochs=int(params.get("epochs", 20)),
            lr=float(params.get("lr", 1e-3)),
            batch_size=int(params.get("batch_size", 32)),
            weight_decay=float(params.get("weight_decay", 0.0)),
            seed=seed,
            on_epoch=lambda epoch, pred: report(epoch, score(metric, split.y_valid, decode(pred))),
        )  # fmt: skip
        return score(metric, split.y_valid, decode(predictions))
