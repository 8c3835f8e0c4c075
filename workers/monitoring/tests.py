"""The drift tests: PSI, Kolmogorov-Smirnov, chi-square, Wasserstein, Jensen-Shannon."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.spatial import distance

from workers.monitoring._base import (
    CATEGORICAL,
    NUMERIC,
    Column,
    DriftTest,
    TestResult,
    floored,
    register,
)

PSI_MODERATE, PSI_MAJOR = 0.1, 0.2
ALPHA = 0.05
WASSERSTEIN_NORMED_THRESHOLD = 0.1  # in reference standard deviations (as Evidently)
JS_THRESHOLD = 0.1  # divergence, base 2 (0: same, 1: disjoint)
QUANTILE_GRID = 200  # points of the quantile functions Wasserstein integrates over


def reference_cdf(reference: dict) -> tuple[np.ndarray, np.ndarray]:
    """The reference's edges and its empirical CDF at them (0 at the first, 1 at the last)."""
    edges = np.asarray(reference["bins"], dtype=np.float64)
    counts = np.asarray(reference["counts"], dtype=np.float64)
    cdf = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    return edges, cdf


@register
class PSI(DriftTest):
    """Population stability index over the reference's bins: < 0.1 stable, 0.1-0.2
    moderate, >= 0.2 a major shift."""

    name = "psi"

    def measure(self, column: Column) -> TestResult:
        expected, actual = floored(column.expected), floored(column.observed_share)
        psi = float(np.sum((actual - expected) * np.log(actual / expected)))
        return TestResult(psi, None, psi >= PSI_MAJOR)


@register
class KolmogorovSmirnov(DriftTest):
    """Two-sample KS. The reference keeps its CDF only at its decile edges, so D is the
    largest CDF gap at those edges (a lower bound of the exact D, which a shift of the
    bulk of the data moves as much); the p-value is the two-sample one for that D."""

    name = "ks"
    kinds = (NUMERIC,)

    def applies_to(self, column: Column) -> bool:
        return super().applies_to(column) and len(column.reference.get("bins", [])) >= 2

    def measure(self, column: Column) -> TestResult:
        edges, ref_cdf = reference_cdf(column.reference)
        values = np.sort(column.values)
        # The reference counted a value in the bin left of an edge equal to it ("right")
        # for inner edges; the outer edges are the open-ended bins' limits.
        cur_cdf = np.searchsorted(values, edges[1:-1], side="right") / len(values)
        gaps = np.abs(ref_cdf[1:-1] - cur_cdf)
        # Beyond the reference range: everything the window holds there is a gap too.
        below = np.mean(values < edges[0])
        above = np.mean(values > edges[-1])
        d = float(max(gaps.max(initial=0.0), below, above))
        n, m = sum(column.reference["counts"]), len(values)
        p = float(stats.kstwo.sf(d, max(1, round(n * m / (n + m)))))
        return TestResult(d, p, p < ALPHA)


@register
class ChiSquare(DriftTest):
    """Pearson's chi-square of the window's category counts against the reference shares
    (categories the reference never saw count in its "other" bucket)."""

    name = "chi_square"
    kinds = (CATEGORICAL,)

    def measure(self, column: Column) -> TestResult:
        observed = column.observed.astype(np.float64)
        expected = floored(column.expected) * observed.sum()
        result = stats.chisquare(observed, expected)
        p = float(result.pvalue)
        return TestResult(float(result.statistic), p, p < ALPHA)


@register
class Wasserstein(DriftTest):
    """Earth mover's distance between the reference's quantile function and the window's,
    in reference standard deviations. The reference knows its quantiles only at its bin
    edges, so the window's are taken at the same levels and both are linear in between:
    comparing a coarse function with a fine one would report the coarseness as drift."""

    name = "wasserstein"
    kinds = (NUMERIC,)

    def applies_to(self, column: Column) -> bool:
        return super().applies_to(column) and len(column.reference.get("bins", [])) >= 2

    def measure(self, column: Column) -> TestResult:
        edges, cdf = reference_cdf(column.reference)
        u = (np.arange(QUANTILE_GRID) + 0.5) / QUANTILE_GRID
        reference_q = np.interp(u, cdf, edges)
        current_q = np.interp(u, cdf, np.quantile(column.values, cdf))
        distance_ = float(stats.wasserstein_distance(reference_q, current_q))
        scale = column.reference.get("std") or (edges[-1] - edges[0]) or 1.0
        normed = distance_ / scale
        return TestResult(normed, None, normed >= WASSERSTEIN_NORMED_THRESHOLD)


@register
class JensenShannon(DriftTest):
    """Jensen-Shannon divergence (base 2) of the binned distributions."""

    name = "jensen_shannon"

    def measure(self, column: Column) -> TestResult:
        js = float(distance.jensenshannon(column.expected, column.observed_share, base=2) ** 2)
        return TestResult(js, None, js >= JS_THRESHOLD)
