"""Every registered drift test keeps the contract: finite numbers, a near-zero statistic on
the reference's own distribution, a larger one on a shifted window, same answer twice."""

import math

import numpy as np
import pytest

from workers.data.reference import reference_stats
from workers.monitoring import TESTS, TestResult
from workers.monitoring.report import summarise

rng = np.random.default_rng(0)
TRAIN = rng.normal(size=5000)
CATEGORIES = rng.choice(["a", "b", "c", "d"], size=5000, p=[0.4, 0.3, 0.2, 0.1])


def column(values: np.ndarray, train: np.ndarray):
    reference = reference_stats(train.reshape(-1, 1).astype(train.dtype), ["x"])["features"]["x"]
    return summarise("x", reference, values)[0]


def windows(kind: str):
    if kind == "numeric":
        return (
            column(rng.normal(size=2000), TRAIN),
            column(rng.normal(loc=1.5, size=2000), TRAIN),
        )
    train = CATEGORIES.astype(object)
    same = rng.choice(["a", "b", "c", "d"], size=2000, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    shifted = rng.choice(["a", "b", "c", "e"], size=2000, p=[0.1, 0.2, 0.3, 0.4]).astype(object)
    return column(same, train), column(shifted, train)


CASES = [(name, kind) for name, test in TESTS.items() for kind in test.kinds]


def test_the_registry_holds_the_issue_s_tests():
    assert {"psi", "ks", "chi_square", "wasserstein", "jensen_shannon"} <= set(TESTS)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_contract(name, kind):
    test = TESTS[name]
    same, shifted = windows(kind)
    assert test.applies_to(same) and test.applies_to(shifted)
    quiet, loud = test.measure(same), test.measure(shifted)
    for result in (quiet, loud):
        assert isinstance(result, TestResult)
        assert math.isfinite(result.statistic) and result.statistic >= 0
        assert result.p_value is None or 0 <= result.p_value <= 1
    assert loud.statistic > quiet.statistic
    assert loud.drifted is not False and quiet.drifted is not True
    if quiet.p_value is not None:
        assert quiet.p_value > 0.05 and loud.p_value < 1e-6
    assert test.measure(same) == quiet  # no state between calls


@pytest.mark.parametrize("name", list(TESTS))
def test_no_test_applies_to_an_empty_window(name):
    kind = TESTS[name].kinds[0]
    train = TRAIN if kind == "numeric" else CATEGORIES.astype(object)
    empty = np.array([], dtype=train.dtype)
    assert not TESTS[name].applies_to(column(empty, train))
