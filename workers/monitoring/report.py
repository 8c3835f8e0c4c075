"""A drift report: every registered test on every feature, a verdict per feature, and the
share of drifted features as the data set's verdict. Plain data in, JSON out.

A feature is drifted when its significance test (KS for numbers, chi-square for
categories) rejects at `alpha` *and* its PSI is at least `psi_moderate`. Either alone
misleads: on a large window a p-value flags shifts too small to matter, and on a small
window PSI is biased upwards (about bins/rows) and flags noise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from workers.data.columns import present, to_float
from workers.data.reference import bin_counts
from workers.monitoring._base import CATEGORICAL, NUMERIC, TESTS, Column
from workers.monitoring.tests import ALPHA, PSI_MAJOR, PSI_MODERATE

PRIMARY = {NUMERIC: "ks", CATEGORICAL: "chi_square"}
OTHER = "(other)"


@dataclass(frozen=True)
class DriftOptions:
    """Thresholds of a report (defaults: PSI 0.1/0.2, alpha 0.05, half the features)."""

    alpha: float = ALPHA
    psi_moderate: float = PSI_MODERATE
    psi_major: float = PSI_MAJOR
    share_threshold: float = 0.5  # drifted share at or above which the data set drifted
    min_rows: int = 30  # fewer values in the window: the feature is not judged


def _numbers(column: np.ndarray) -> np.ndarray:
    numbers = to_float(column) if column.dtype == object else column.astype(np.float64)
    return numbers


def summarise(name: str, reference: dict, column: np.ndarray) -> tuple[Column, float]:
    """The window of one feature binned like its reference, and its missing share."""
    if reference["kind"] == NUMERIC:
        numbers = _numbers(column)
        finite = numbers[np.isfinite(numbers)]
        edges = reference["bins"]
        observed = np.asarray(bin_counts(finite, edges) if edges else [], dtype=np.int64)
        counts = np.asarray(reference["counts"], dtype=np.float64)
        expected = counts / counts.sum() if len(counts) else counts
        labels = [f"[{a:.4g}, {b:.4g})" for a, b in zip(edges[:-1], edges[1:], strict=False)]
        missing = 1 - len(finite) / len(column) if len(column) else 0.0
        return Column(name, NUMERIC, reference, finite, expected, observed, labels), missing
    cells = present(column) if column.dtype == object else column[np.isfinite(column)]
    values = np.asarray([str(c) for c in cells], dtype=object)
    frequencies = reference["frequencies"]
    seen = Counter(values.tolist())
    labels = [*frequencies, OTHER]
    known = [seen.get(category, 0) for category in frequencies]
    observed = np.asarray([*known, len(values) - sum(known)], dtype=np.int64)
    expected = np.asarray([*frequencies.values(), reference.get("other", 0.0)])
    expected = expected / expected.sum() if expected.sum() > 0 else expected
    missing = 1 - len(values) / len(column) if len(column) else 0.0
    return Column(name, CATEGORICAL, reference, values, expected, observed, labels), missing


def feature_report(column: Column, missing_share: float, options: DriftOptions) -> dict:
    """Every applicable test on one column, the histogram pair, and its verdict."""
    results = {
        name: test.measure(column).as_dict()
        for name, test in TESTS.items()
        if test.applies_to(column)
    }
    psi = results.get("psi", {}).get("statistic")
    primary = results.get(PRIMARY[column.kind])
    judged = column.n >= options.min_rows and psi is not None and primary is not None
    if column.n < options.min_rows:
        not_judged = f"{column.n} of {options.min_rows} rows"
    elif not judged:
        not_judged = "no test applies to its values"
    else:
        not_judged = None
    drifted = bool(judged and primary["p_value"] < options.alpha and psi >= options.psi_moderate)
    level = (
        None
        if psi is None
        else "major"
        if psi >= options.psi_major
        else "moderate"
        if psi >= options.psi_moderate
        else "none"
    )
    return {
        "kind": column.kind,
        "n": column.n,
        "missing_share": missing_share,
        "reference_missing_share": column.reference.get("missing_share"),
        "tests": results,
        "psi_level": level,
        "judged": judged,
        "not_judged": not_judged,  # why not, in words (None when judged)
        "drifted": drifted,
        "histogram": {
            "labels": column.labels,
            "reference": column.expected.tolist(),
            "current": column.observed_share.tolist(),
        },
    }


def drift_report(
    reference: dict, X: np.ndarray, feature_names: list[str], options: DriftOptions | None = None
) -> dict:
    """Compare a window of rows X (N x features, in `feature_names` order; numbers, or raw
    object cells) with reference statistics (workers.data.reference.reference_stats).

    Args:
        reference: {"n_rows", "features": {name: stats}} of the training rows.
        X: the window; columns the reference does not know are listed, not tested.
        feature_names: X's column names.
        options: thresholds.
    Returns:
        JSON-able {"n_rows", "features": {name: {...}}, "drifted_features",
        "drifted_share", "dataset_drift", "options", "skipped"}.
    """
    options = options or DriftOptions()
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != len(feature_names):
        raise ValueError(f"X has shape {X.shape} but {len(feature_names)} feature names")
    known = reference.get("features", {})
    features, skipped = {}, []
    for j, name in enumerate(feature_names):
        if name not in known:
            skipped.append(name)
            continue
        column, missing = summarise(name, known[name], X[:, j])
        features[name] = feature_report(column, missing, options)
    judged = [name for name, f in features.items() if f["judged"]]
    drifted = [name for name in judged if features[name]["drifted"]]
    share = len(drifted) / len(judged) if judged else 0.0
    return {
        "n_rows": int(X.shape[0]),
        "features": features,
        "judged_features": len(judged),
        "drifted_features": drifted,
        "drifted_share": share,
        "dataset_drift": bool(judged) and share >= options.share_threshold,
        "options": asdict(options),
        "skipped": skipped,
    }


def output_reference(values: np.ndarray, kind: str) -> dict:
    """Reference statistics of a model's outputs (labels: categorical; numbers: numeric)."""
    from workers.data.reference import reference_stats

    values = np.asarray(values)
    if kind == CATEGORICAL:
        counts = Counter(str(v) for v in values.tolist())
        total = sum(counts.values())
        return {
            "n_rows": total,
            "features": {
                "prediction": {
                    "kind": CATEGORICAL,
                    "frequencies": {k: n / total for k, n in counts.items()},
                    "other": 0.0,
                    "missing_share": 0.0,
                    "count": total,
                }
            },
        }
    return reference_stats(values.astype(np.float64).reshape(-1, 1), ["prediction"])


def prediction_drift(
    baseline: np.ndarray, current: np.ndarray, kind: str, options: DriftOptions | None = None
) -> dict:
    """Drift of a model's output distribution: `current` outputs against `baseline` ones
    (e.g. an earlier window of the same version); `kind` is categorical for class labels,
    numeric for regression values. Returns the feature entry of a report."""
    reference = output_reference(baseline, kind)
    column, missing = summarise(
        "prediction",
        reference["features"]["prediction"],
        np.asarray(current, dtype=object if kind == CATEGORICAL else np.float64),
    )
    return feature_report(column, missing, options or DriftOptions())
