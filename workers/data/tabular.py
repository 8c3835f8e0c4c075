"""The in-memory table every engine consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TabularData:
    """Features X (float64), target y, and what they mean."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    task: str  # "classification" | "regression"
    target_name: str
