"""The in-memory table every engine consumes."""

from __future__ import annotations

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

    @property
    def make_transformer(self) -> Any:
        """fe_params -> an unfitted TablePreprocessor, or None when X needs none."""
        if self.preprocessing is None or np.ndim(self.X) != 2:
            return None
        from workers.data.preprocess import TablePreprocessor, resolve

        kinds = self.column_kinds or ["numeric"] * len(self.feature_names)
        options = self.preprocessing

        def make(fe_params: dict) -> TablePreprocessor:
            return TablePreprocessor(kinds=list(kinds), options=resolve(options, fe_params))

        return make

    @property
    def feature_space(self) -> dict:
        """The feature-engineering switches the search may flip (keys without "fe.")."""
        if self.make_transformer is None:
            return {}
        from workers.data.preprocess import feature_space

        kinds = self.column_kinds or ["numeric"] * len(self.feature_names)
        return feature_space(self.preprocessing, kinds)
