"""Drift statistics on served traffic, without Django.

Adding a test is one class with `@register` in a module imported here; the contract test
(tests/monitoring_tests/test_drift_tests_contract.py) runs every entry of TESTS.
"""

from workers.monitoring import tests  # noqa: F401  (registers the tests)
from workers.monitoring._base import TESTS, Column, DriftTest, TestResult, register
from workers.monitoring.report import DriftOptions, drift_report, prediction_drift

__all__ = [
    "TESTS",
    "Column",
    "DriftOptions",
    "DriftTest",
    "TestResult",
    "drift_report",
    "prediction_drift",
    "register",
]
