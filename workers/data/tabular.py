"""The in-memory table every engine consumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class TabularData:
    """Features X, target y, and what they mean.

    X is float64 (builtin and .npz tables), float32 N x C x H x W (images), or a 2-D
    object array of raw cells (CSV uploads: strings and None). Engines only see raw cells
    through `make_transformer`, whose fitted result turns them into float64 features.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    task: str  # "classification" | "regression"
    target_name: str
    column_kinds: list[str] | None = None  # per feature; None: every one numeric
    classes: list | None = None  # labels of the class indices in y, when known
    preprocessing: dict | None = None  # normalised options; None: X is used as it is

    # make_transformer and feature_space follow from the fields above, so that
    # dataclasses.replace (the engine's splits) keeps them. A subclass may still declare
    # them as fields of its own, and the setters let it.

    @property
    def make_transformer(self) -> Callable[[dict], Any] | None:
        """fe_params -> an unfitted Preprocessing (fit/transform -> float64), or None
        when X is used as it is (no preprocessing, or images)."""
        if "_make_transformer" in self.__dict__:
            return self.__dict__["_make_transformer"]
        if self.preprocessing is None or np.ndim(self.X) != 2:
            return None
        from workers.data.preprocess import Preprocessing, resolve

        kinds, options, task, names = self._kinds(), self.preprocessing, self.task, None
        if len(set(self.feature_names)) == len(self.feature_names):
            names = list(self.feature_names)

        def make(fe_params: dict) -> Preprocessing:
            options_now = resolve(options, fe_params)
            return Preprocessing(kinds=kinds, options=options_now, task=task, names=names)

        return make

    @make_transformer.setter
    def make_transformer(self, value: Callable[[dict], Any] | None) -> None:
        self.__dict__["_make_transformer"] = value

    @property
    def feature_space(self) -> dict:
        """The feature-engineering switches the search may flip (keys without "fe.")."""
        if "_feature_space" in self.__dict__:
            return self.__dict__["_feature_space"]
        if self.preprocessing is None or np.ndim(self.X) != 2:
            return {}
        from workers.data.preprocess import feature_space

        return feature_space(self.preprocessing, self._kinds())

    @feature_space.setter
    def feature_space(self, value: dict) -> None:
        self.__dict__["_feature_space"] = value

    def use_preprocessing(self, options: dict | None) -> None:
        """Apply a job's normalised preprocessing options (None: X as it is)."""
        self.preprocessing = options

    def _kinds(self) -> list[str]:
        return list(self.column_kinds or ["numeric"] * len(self.feature_names))
