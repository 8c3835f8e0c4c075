"""Presets: named defaults for the keys that trade time for quality, as AutoGluon's are.

A preset fills in the keys a config leaves out (keys given always win): the time budget,
the families a `model: auto` search tries, the validation and ensembling.

- quick: 60 s, the cheap families (linear, random forest, LightGBM), one holdout split,
  no ensemble: a first model in a minute.
- balanced: 5 minutes, every tabular family but the SVM and the MLP (slow on big tables),
  3-fold cross-validation, a greedy ensemble of the 8 best trials.
- best: 30 minutes, every tabular family, 5-fold cross-validation, an ensemble of the 12
  best trials with a stacked layer tried beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.hpo.families import families_for


@dataclass(frozen=True)
class Preset:
    time_budget_s: float
    families: tuple[str, ...] | None  # None: every tabular family of the task
    validation: dict
    ensemble: dict = field(default_factory=dict)

    def defaults(self, task: str) -> dict:
        """The config keys this preset sets for a data set of `task`."""
        names = [
            name
            for name in families_for(task, "tabular")
            if self.families is None or name in self.families
        ]
        space = {"model": {"type": "categorical", "choices": names}}
        return {
            "time_budget_s": self.time_budget_s,
            "model": "auto",
            "search_space": space,
            "validation": self.validation,
            "ensemble": self.ensemble,
        }


_CHEAP = ("logistic_regression", "ridge", "random_forest", "lightgbm")
_NOT_SLOW = (*_CHEAP, "hist_gradient_boosting", "xgboost", "knn")

PRESETS: dict[str, Preset] = {
    "quick": Preset(60, _CHEAP, {"method": "holdout"}, {"enabled": False}),
    "balanced": Preset(
        300, _NOT_SLOW, {"method": "cv", "folds": 3}, {"enabled": True, "members": 8}
    ),
    "best": Preset(
        1800, None, {"method": "cv", "folds": 5}, {"enabled": True, "members": 12, "stack": True}
    ),
}


def apply_preset(config: dict, task: str) -> dict:
    """config with its preset's defaults under the keys it gives (a `model` or
    `search_space` given keeps the preset's families out); unchanged without a preset."""
    preset = PRESETS.get(config.get("preset"))
    if preset is None:
        return config
    defaults = preset.defaults(task)
    if "model" in config or "search_space" in config:
        defaults.pop("model"), defaults.pop("search_space")
    return {**defaults, **config}
