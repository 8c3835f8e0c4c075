"""Datasets and splits as plain numpy data."""

from workers.data.tabular import TabularData

__all__ = ["TabularData"]
