"""Small datasets bundled with scikit-learn (no download needed)."""

from __future__ import annotations

import numpy as np
from sklearn import datasets

from workers.data.tabular import TabularData

BUILTIN_DATASETS: dict[str, dict] = {
    "iris": {
        "task": "classification",
        "title": "Iris",
        "description": "150 iris flowers, 4 measurements, 3 species.",
        "target_name": "species",
    },
    "wine": {
        "task": "classification",
        "title": "Wine",
        "description": "178 wines, 13 chemical measurements, 3 cultivars.",
        "target_name": "cultivar",
    },
    "breast_cancer": {
        "task": "classification",
        "title": "Breast cancer (Wisconsin)",
        "description": "569 tumour samples, 30 cell-nucleus features, benign or malignant.",
        "target_name": "diagnosis",
    },
    "digits": {
        "task": "classification",
        "title": "Digits",
        "description": "1797 8x8 images of handwritten digits, 10 classes.",
        "target_name": "digit",
    },
    "diabetes": {
        "task": "regression",
        "title": "Diabetes",
        "description": "442 patients, 10 baseline variables, disease progression after a year.",
        "target_name": "disease_progression",
    },
}


_LOADERS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
    "diabetes": datasets.load_diabetes,
}


def load_builtin(name: str) -> TabularData:
    """Load a builtin dataset by name; KeyError for unknown names."""
    if name not in BUILTIN_DATASETS:
        known = ", ".join(sorted(BUILTIN_DATASETS))
        raise KeyError(f"unknown builtin dataset {name!r}; known: {known}")
    meta = BUILTIN_DATASETS[name]
    bunch = _LOADERS[name]()
    y_dtype = np.int64 if meta["task"] == "classification" else np.float64
    return TabularData(
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=y_dtype),
        feature_names=[str(f) for f in bunch.feature_names],
        task=meta["task"],
        target_name=meta["target_name"],
    )
