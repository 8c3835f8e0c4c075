"""The hand-written preprocessing model versions saved before scikit-learn's transformers
replaced it (workers.data.preprocess.Preprocessing). Kept only so that those versions'
preprocessing.skops files keep loading and transforming exactly as when they were trained:
it cannot be fitted any more. skops finds it under its old name,
workers.data.preprocess.TablePreprocessor, which that module re-exports.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workers.data.columns import cells_table, datetime_parts, to_bool, to_float, to_seconds

MAX_POLY_COLUMNS = 20


class TablePreprocessor(TransformerMixin, BaseEstimator):
    """A fitted legacy preprocessing: raw cells (N x C objects) -> float64 features."""

    def __init__(self, kinds: list[str] | None = None, options: dict | None = None) -> None:
        self.kinds = kinds
        self.options = options

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> TablePreprocessor:
        raise NotImplementedError("only loaded from old versions; fit Preprocessing instead")

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        X = self._check_input(X)
        block = self._numeric_block(X)
        if self.clip_low_ is not None:
            block = np.clip(block, self.clip_low_, self.clip_high_)
        block = np.where(np.isnan(block), self.fill_, block)
        block = (block - self.center_) / self.scale_
        out = [block, *(block[:, [a]] * block[:, [b]] for a, b in self._poly_pairs())]
        encoders = zip(
            self._columns("categorical"),
            self.category_fill_,
            self.categories_,
            self.frequencies_,
            strict=True,
        )
        for j, fill, categories, frequencies in encoders:
            cells = [fill if c is None else str(c) for c in X[:, j]]
            if frequencies is not None:
                out.append(np.array([frequencies.get(c, 0.0) for c in cells])[:, None])
                continue
            index = {c: i for i, c in enumerate(categories)}
            onehot = np.zeros((len(cells), len(categories)))
            for row, cell in enumerate(cells):
                if (hit := index.get(cell)) is not None:  # unknown values: all zeros
                    onehot[row, hit] = 1.0
            out.append(onehot)
        return np.ascontiguousarray(np.hstack(out), dtype=np.float64)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def _check_input(self, X: np.ndarray) -> np.ndarray:
        return cells_table(X, self.kinds)

    def _columns(self, kind: str) -> list[int]:
        return [j for j, k in enumerate(self.kinds) if k == kind]

    def _numeric_block(self, X: np.ndarray) -> np.ndarray:
        parts = [np.empty((len(X), 0))]
        for j, kind in enumerate(self.kinds):
            if kind == "numeric":
                parts.append(to_float(X[:, j])[:, None])
            elif kind == "boolean":
                parts.append(to_bool(X[:, j])[:, None])
            elif kind == "datetime":
                seconds = to_seconds(X[:, j])
                if self.options_["datetime_parts"]:
                    parts.append(datetime_parts(seconds))
                else:
                    parts.append(seconds[:, None] / 86400.0)
        return np.hstack(parts)

    def _poly_pairs(self) -> list[tuple[int, int]]:
        mode = self.options_["polynomial"]
        if mode == "none":
            return []
        cols = [i for i, s in enumerate(self.block_sources_) if s == "numeric"][:MAX_POLY_COLUMNS]
        return [
            (a, b) for i, a in enumerate(cols) for b in cols[i:] if a != b or mode == "degree2"
        ]
