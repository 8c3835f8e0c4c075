"""NAS strategies by name. Adding one is a module here, `@register`, and the contract test
(tests/workers_tests/test_nas_strategies.py) runs it. No module imports torch at import
time: config validation reads the registry."""

from workers.nas.strategies import darts, evolution, random_search, rl  # noqa: F401
from workers.nas.strategies._base import (
    STRATEGIES,
    Candidate,
    SamplingStrategy,
    SearchContext,
    SearchOutcome,
    Strategy,
)

__all__ = [
    "STRATEGIES",
    "Candidate",
    "SamplingStrategy",
    "SearchContext",
    "SearchOutcome",
    "Strategy",
]
