"""A scikit-learn transformer whose skops loading runs code: restoring its state writes
`marker`. Trusting its type would run it; the platform's allow-list does not hold it."""

from pathlib import Path

from sklearn.base import BaseEstimator, TransformerMixin


class MarkerWriter(TransformerMixin, BaseEstimator):
    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X

    def __setstate__(self, state: dict) -> None:
        Path(state["marker"]).write_text("pwned")  # what a malicious class does on load
        self.__dict__.update(state)
