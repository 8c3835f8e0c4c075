"""A pipeline's gate: its conditions judged on facts about one model, each answer saying
what was demanded, what was found and whether it passed.

Facts are plain numbers the platform gathers (the model's held-out metrics and its
parent's, its size, and latencies measured here with `batch_latency_ms`), so a gate is
judged, and tested, without a database.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workers.pipeline.config import Condition


@dataclass(frozen=True)
class Facts:
    """What a gate may ask about the model."""

    metrics: dict[str, float]
    parent_metrics: dict[str, float] | None
    size_bytes: int
    latency_ms: dict[int, float]  # batch size -> median ms of one predict call


def judge(condition: Condition, facts: Facts) -> dict:
    """{"condition", "value", "passed", "why"} of one condition on the facts."""
    o = condition.options
    says = condition.says()

    def answer(value: float | None, passed: bool, why: str = "") -> dict:
        return {"condition": says, "value": value, "passed": passed, "why": why}

    if condition.check == "metric":
        value = facts.metrics.get(o.metric)
        if value is None:
            return answer(None, False, _no_metric(o.metric, facts.metrics))
        low = o.min is None or value >= o.min
        high = o.max is None or value <= o.max
        return answer(value, low and high)
    if condition.check == "drop":
        value = facts.metrics.get(o.metric)
        if value is None:
            return answer(None, False, _no_metric(o.metric, facts.metrics))
        parent = (facts.parent_metrics or {}).get(o.metric)
        if parent is None:
            return answer(None, False, f"the parent model has no {o.metric} to compare with")
        drop = parent - value
        return answer(drop, drop <= o.max)
    if condition.check == "size":
        return answer(facts.size_bytes, facts.size_bytes <= o.max_bytes)
    value = facts.latency_ms[o.batch_size]
    return answer(value, value <= o.max_ms)


def _no_metric(name: str, metrics: dict) -> str:
    return f"the model has no metric {name!r} (it has: {', '.join(sorted(metrics)) or 'none'})"


def judge_all(conditions: tuple[Condition, ...], facts: Facts) -> list[dict]:
    return [judge(c, facts) for c in conditions]


def batch_latency_ms(
    predict: Callable[[np.ndarray], object], X: np.ndarray, batch: int, repeats: int = 5
) -> float:
    """Median milliseconds of one predict call on `batch` rows of X (repeated to fill the
    batch when X has fewer), after one warm-up call."""
    rows = np.asarray(X)
    if len(rows) == 0:
        raise ValueError("no rows to time the model on")
    rows = rows[np.arange(batch) % len(rows)]
    predict(rows)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(rows)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
