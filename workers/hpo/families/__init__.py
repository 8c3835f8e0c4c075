"""Model families that HPO can tune, registered by name (one module per family)."""

import importlib

from workers.hpo.families._base import (
    FAMILIES,
    GROWTH,
    FitContext,
    ModelFamily,
    StepFn,
    families_for,
    register,
)

# Registration order is the order in which model "auto" lists the families.
for _module in ("linear", "forest", "boosting", "lightgbm", "xgboost", "svm", "knn", "mlp", "cnn"):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "FAMILIES",
    "GROWTH",
    "FitContext",
    "ModelFamily",
    "StepFn",
    "families_for",
    "register",
]
