"""Resampling and significance tests, and the sentences that report them to analysts.

Every random draw comes from `np.random.default_rng(seed)`, so a report can be recomputed
number for number (the tests do, with plain numpy).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

# McNemar: below this many discordant pairs the chi-square approximation is poor, so the
# exact binomial test is used (the usual rule of thumb is 25).
EXACT_BELOW = 25
SIGNIFICANT = 0.05


def bootstrap_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """n_resamples x n row indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile bootstrap interval of statistic(rows) over n rows.

    A resample on which the statistic is undefined (e.g. ROC AUC with one class drawn)
    raises ValueError and is left out; `n_valid` says how many counted.

    Returns:
        {"low", "high", "level", "n_resamples", "n_valid"}; low/high None if none counted.
    """
    values = []
    for rows in bootstrap_indices(n, n_resamples, seed):
        try:
            value = float(statistic(rows))
        except ValueError:
            continue
        if math.isfinite(value):
            values.append(value)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if values else (None, None)
    return {
        "low": None if low is None else float(low),
        "high": None if high is None else float(high),
        "level": level,
        "n_resamples": n_resamples,
        "n_valid": len(values),
    }


def mcnemar(a_correct: np.ndarray, b_correct: np.ndarray) -> dict:
    """McNemar's test on paired right/wrong answers of models A and B on the same rows.

    Exact two-sided binomial test when the discordant pairs are fewer than EXACT_BELOW,
    else chi-square with continuity correction, 1 degree of freedom.
    """
    a_correct, b_correct = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    only_a = int(np.sum(a_correct & ~b_correct))
    only_b = int(np.sum(~a_correct & b_correct))
    discordant = only_a + only_b
    if discordant == 0:
        method, statistic, p = "none (no discordant pairs)", None, 1.0
    elif discordant < EXACT_BELOW:
        method, statistic = "McNemar exact binomial test", None
        p = float(stats.binomtest(only_b, discordant, 0.5).pvalue)
    else:
        method = "McNemar chi-square test with continuity correction"
        statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
        p = float(stats.chi2.sf(statistic, 1))
    return {
        "test": method,
        "only_a_right": only_a,
        "only_b_right": only_b,
        "statistic": statistic,
        "p_value": min(1.0, p),
    }


def paired_bootstrap(
    loss: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """Paired bootstrap of loss(B) - loss(A) over the same resampled rows.

    The two-sided p-value is twice the share of resamples on the far side of zero from
    the observed difference, with the +1 correction that keeps it above 0.
    """
    diffs = np.array(
        [
            loss(y[rows], pred_b[rows]) - loss(y[rows], pred_a[rows])
            for rows in bootstrap_indices(len(y), n_resamples, seed)
        ]
    )
    observed = float(loss(y, pred_b) - loss(y, pred_a))
    flipped = np.sum(diffs <= 0) if observed > 0 else np.sum(diffs >= 0)
    p = min(1.0, 2 * (flipped + 1) / (n_resamples + 1)) if observed != 0 else 1.0
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        "test": "paired bootstrap",
        "difference": observed,
        "low": float(low),
        "high": float(high),
        "n_resamples": n_resamples,
        "p_value": float(p),
    }


def chance_words(p: float) -> str:
    """p as "3 in 1000 cases"-style words."""
    per_thousand = round(p * 1000)
    if per_thousand < 1:
        return "fewer than 1 in 1000 cases"
    return f"{per_thousand} in 1000 cases"


def verdict(a: str, b: str, better: str | None, quality: str, p: float) -> str:
    """The analyst's sentence: which is better, and how often chance alone does that."""
    if better is None:
        return f"{a} and {b} give the same answers on these rows: there is no difference."
    worse = a if better == b else b
    chance = chance_words(p)
    if p < SIGNIFICANT:
        return (
            f"{better} is {quality} than {worse}; a difference this large would happen "
            f"by chance in {chance} (p = {p:.3g}), so it is unlikely to be luck."
        )
    return (
        f"{better} looks {quality} than {worse}, but a difference this large would "
        f"happen by chance in {chance} (p = {p:.3g}): not enough evidence that it "
        "is really better."
    )
