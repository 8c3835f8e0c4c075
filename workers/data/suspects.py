"""Columns a model had better not see, found while profiling: constant, ID-like, leaky
(derived from the target) and near-duplicate columns.

Each check reads the column summaries (exact counts, workers.data.summary) or the
profile's uniform row sample (at most profile.SAMPLE_ROWS rows), so it costs the same on a
gigabyte file as on a small one. The rules, in the order they are tried:

- constant: at most one distinct present value;
- id_like: a categorical or whole-number column with a distinct value in at least
  ID_SHARE of its rows (or more distinct values than are counted);
- leaky: the column alone predicts the target: for classification, each of its values
  (numbers cut into LEAK_BINS quantile bins) goes with one class in at least LEAK_SHARE of
  the sampled rows, while the most common class alone covers less than that; for
  regression, |Pearson r| with the target is at least LEAK_SHARE;
- duplicate: the column matches an earlier one: |Pearson r| at least DUPLICATE_SHARE for
  numbers, otherwise a one-to-one mapping of values holding on DUPLICATE_SHARE of the
  sampled rows both ways (a renamed copy such as plan / plan_code).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workers.data.columns import to_float
from workers.data.summary import ColumnSummary

ID_SHARE = 0.95
LEAK_SHARE = 0.99
LEAK_BINS = 50
DUPLICATE_SHARE = 0.99
MIN_ROWS = 20  # fewer sampled rows than this: nothing is judged
MAX_PAIRED = 200  # columns compared pairwise for duplicates (the first ones)


def suspect_columns(
    columns: list[str],
    summaries: list[ColumnSummary],
    sample: np.ndarray,
    target: int,
    task: str,
) -> list[dict]:
    """[{"column", "reason", "detail"}] for each feature column to consider dropping."""
    found: dict[int, dict] = {}
    for j, summary in enumerate(summaries):
        if j != target and (hit := _constant_or_id(summary)):
            found[j] = {"column": columns[j], **hit}
    if len(sample) < MIN_ROWS:
        return list(found.values())
    codes = [_codes(sample[:, j]) for j in range(len(columns))]
    numbers = {j: to_float(sample[:, j]) for j, s in enumerate(summaries) if s.kind == "numeric"}
    y = numbers.get(target) if task == "regression" else codes[target]
    for j in range(len(columns)):
        if j == target or j in found:
            continue
        if _leaks(codes[j], numbers.get(j), y, task):
            found[j] = {
                "column": columns[j],
                "reason": "leaky",
                "detail": f"predicts {columns[target]!r} almost perfectly on its own",
            }
    kept = [j for j in range(len(columns)) if j != target and j not in found][:MAX_PAIRED]
    distinct = {j: int(codes[j].max()) + 1 for j in kept}
    for b_index, b in enumerate(kept):
        for a in kept[:b_index]:
            # A near-copy has about as many distinct values: a cheap test first.
            similar = abs(distinct[a] - distinct[b]) <= (1 - DUPLICATE_SHARE) * len(sample) + 1
            if (
                a not in found
                and similar
                and _duplicates(codes[a], codes[b], numbers.get(a), numbers.get(b))
            ):
                found[b] = {
                    "column": columns[b],
                    "reason": "duplicate",
                    "detail": f"repeats {columns[a]!r}",
                }
                break
    return [found[j] for j in sorted(found)]


def _constant_or_id(summary: ColumnSummary) -> dict | None:
    if summary.distinct <= 1:
        what = "no values" if not summary.present else "a single value"
        return {"reason": "constant", "detail": f"holds {what}"}
    identifier = summary.kind == "categorical" or (summary.kind == "numeric" and summary.whole)
    many = summary.capped or summary.distinct >= ID_SHARE * summary.present
    if identifier and many and summary.present >= MIN_ROWS:
        return {"reason": "id_like", "detail": "a different value in nearly every row"}
    return None


def _codes(cells: np.ndarray) -> np.ndarray:
    """Each cell's value as a small integer (missing: one value of its own), by hashing
    (pyarrow's dictionary encoding): sorting object arrays would cost far more."""
    encoded = pc.dictionary_encode(pa.array(cells, pa.string()))
    missing = len(encoded.dictionary)
    return pc.fill_null(encoded.indices, missing).to_numpy().astype(np.int64)


def _leaks(codes, numbers, y, task: str) -> bool:
    if task == "regression":
        return numbers is not None and _correlation(numbers, y) >= LEAK_SHARE
    if numbers is not None and len(np.unique(codes)) > LEAK_BINS:
        finite = np.isfinite(numbers)
        edges = np.quantile(numbers[finite], np.linspace(0, 1, LEAK_BINS + 1)[1:-1])
        codes = np.where(finite, np.searchsorted(edges, numbers), LEAK_BINS)
    majority = np.bincount(y).max() / len(y)
    return majority < LEAK_SHARE and _agreement(codes, y) >= LEAK_SHARE


def _duplicates(a, b, numbers_a, numbers_b) -> bool:
    if numbers_a is not None and numbers_b is not None:
        return _correlation(numbers_a, numbers_b) >= DUPLICATE_SHARE
    return min(_agreement(a, b), _agreement(b, a)) >= DUPLICATE_SHARE


def _agreement(x: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose y is the most common y among the rows with the same x."""
    pairs, counts = np.unique(x.astype(np.int64) * (int(y.max()) + 1) + y, return_counts=True)
    best = np.zeros(int(x.max()) + 1, dtype=np.int64)
    np.maximum.at(best, pairs // (int(y.max()) + 1), counts)
    return float(best.sum() / len(x))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < MIN_ROWS or np.ptp(a[both]) == 0 or np.ptp(b[both]) == 0:
        return 0.0
    return abs(float(np.corrcoef(a[both], b[both])[0, 1]))
