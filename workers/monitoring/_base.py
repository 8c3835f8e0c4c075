"""The drift-test base class, the registry, and the column summary every test reads.

A reference (workers.data.reference) keeps no training rows, only quantile bins or
category frequencies, so every test here compares the reference's *distribution* with a
window of served values. Tests that need more than the bins say how they approximate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

NUMERIC, CATEGORICAL = "numeric", "categorical"
# Proportions are floored at this before logarithms and ratios: an empty bin on one side
# would otherwise make PSI and chi-square infinite (the usual convention for PSI).
EPSILON = 1e-4


@dataclass
class Column:
    """One feature of the current window, binned the way its reference is.

    `expected` is the reference share of each bin (numeric: the reference quantile bins;
    categorical: the reference's top categories and a last "other" bucket), `observed`
    the window's count in the same bins; `values` the window's finite numbers (numeric)
    or category strings.
    """

    name: str
    kind: str
    reference: dict
    values: np.ndarray
    expected: np.ndarray
    observed: np.ndarray
    labels: list[str]

    @property
    def n(self) -> int:
        return int(self.observed.sum())

    @property
    def observed_share(self) -> np.ndarray:
        return self.observed / max(1, self.n)


@dataclass
class TestResult:
    """What one test says about one column.

    `drifted` is the test's own verdict at its threshold (None: a measure without one);
    the report combines verdicts into the feature's (see workers.monitoring.report).
    """

    __test__ = False  # not a pytest class, whatever its name

    statistic: float
    p_value: float | None = None
    drifted: bool | None = None

    def as_dict(self) -> dict:
        return {"statistic": self.statistic, "p_value": self.p_value, "drifted": self.drifted}


class DriftTest(ABC):
    """A statistic comparing a column's window with its reference.

    Subclasses set `name` and `kinds` (the column kinds they apply to) and implement
    `measure`. They keep no state between calls.
    """

    name: str = ""
    kinds: tuple[str, ...] = (NUMERIC, CATEGORICAL)

    def applies_to(self, column: Column) -> bool:
        return column.kind in self.kinds and column.n > 0 and len(column.expected) > 0

    @abstractmethod
    def measure(self, column: Column) -> TestResult:
        """The statistic (and p-value, when the test has one) for `column`.

        Args:
            column: the window of one feature, binned like its reference.
        Returns:
            A TestResult whose numbers are finite floats.
        """


TESTS: dict[str, DriftTest] = {}


def register(cls: type[DriftTest]) -> type[DriftTest]:
    """Class decorator: one instance of `cls` in TESTS under its name."""
    if not cls.name or cls.name in TESTS:
        raise ValueError(f"drift test {cls.__name__} needs a unique name, not {cls.name!r}")
    TESTS[cls.name] = cls()
    return cls


def floored(shares: np.ndarray) -> np.ndarray:
    """Shares with no zero (EPSILON), still summing to one."""
    shares = np.maximum(np.asarray(shares, dtype=np.float64), EPSILON)
    return shares / shares.sum()
