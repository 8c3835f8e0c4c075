"""One column summarised over batches in bounded memory: its kind and exact counts.

A ColumnSummary takes a column batch after batch (cleaned pyarrow strings, as
workers.data.tables yields them) and keeps, whatever the row count:
- the row and missing counts, and the total length of the present cells;
- which kinds are still possible (numeric, boolean, datetime: every present cell so far
  parses as one), decided exactly as columns.infer_kind decides on a whole column;
- for numbers (and timestamps): min, max, sum and sum of squares, whether all are whole;
- the count of each distinct value, exactly while there are at most MAX_TRACKED of them.
  Past that the column is marked `capped`: it is ID-like or free text, its distinct count
  is "more than MAX_TRACKED" and its top values are those seen before the cap.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workers.data.columns import (
    FALSE,
    TEXT_MIN_DISTINCT_SHARE,
    TEXT_MIN_MEAN_LENGTH,
    TRUE,
    _looks_like_dates,
    to_seconds,
)

MAX_TRACKED = 100_000
_BOOLEANS = pa.array(sorted(TRUE | FALSE), pa.string())


class Moments:
    """min, max, count, mean and standard deviation of a stream of finite numbers."""

    def __init__(self) -> None:
        self.count, self.total, self.squares = 0, 0.0, 0.0
        self.lo, self.hi = math.inf, -math.inf

    def add(self, numbers: np.ndarray) -> None:
        if len(numbers):
            self.count += len(numbers)
            self.total += float(numbers.sum())
            self.squares += float(np.square(numbers).sum())
            self.lo, self.hi = (
                min(self.lo, float(numbers.min())),
                max(self.hi, float(numbers.max())),
            )

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def std(self) -> float | None:
        if not self.count:
            return None
        return math.sqrt(max(self.squares / self.count - (self.total / self.count) ** 2, 0.0))


class ColumnSummary:
    """What one column holds, accumulated batch by batch (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = 0
        self.missing = 0
        self.length = 0
        self.numeric = self.boolean = self.datetime = True
        self.whole = True
        self.first: list[str] = []  # the first present cells: do they look like dates?
        self.numbers = Moments()
        self.seconds = Moments()
        self._counted: pa.Table | None = None  # distinct values and their counts
        self._pending: list[pa.Table] = []  # batches' counts not merged in yet
        self._pending_rows = 0
        self.capped = False

    @classmethod
    def of(cls, values) -> ColumnSummary:
        """The summary of one in-memory column of raw cells (strings, numbers, None)."""
        from workers.data.tables import clean

        cells = [v if v is None or isinstance(v, str) else _text(v) for v in values]
        summary = cls()
        summary.add(clean(pa.array(cells, pa.string())))
        return summary

    def add(self, column: pa.Array) -> None:
        """Take one more batch of this column (cleaned strings, missing cells null)."""
        self.rows += len(column)
        cells = column.drop_null()
        self.missing += len(column) - len(cells)
        if not len(cells):
            return
        self.length += pc.sum(pc.utf8_length(cells)).as_py()
        if len(self.first) < 20:
            self.first += cells[: 20 - len(self.first)].to_pylist()
        self._count(cells)
        if self.numeric:
            self._numbers(cells)
        if self.boolean:
            self.boolean = pc.all(pc.is_in(pc.utf8_lower(cells), _BOOLEANS)).as_py()
        if self.datetime:
            self._timestamps(cells)

    def _count(self, cells: pa.Array) -> None:
        counted = pc.value_counts(cells)
        values, counts = counted.field("values"), counted.field("counts")
        self._pending.append(pa.table({"value": values, "n": counts}))
        self._pending_rows += len(counted)
        if self._pending_rows > MAX_TRACKED:  # merging is costly: once per ~MAX_TRACKED
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        batch = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        if self.capped:  # only values already counted go on being counted
            batch = batch.filter(pc.is_in(batch["value"], self._counted["value"]))
        merged = batch if self._counted is None else pa.concat_tables([self._counted, batch])
        merged = merged.group_by("value").aggregate([("n", "sum")])
        merged = merged.rename_columns(["value", "n"])
        if merged.num_rows > MAX_TRACKED:
            self.capped = True
            merged = merged.take(pc.select_k_unstable(merged, MAX_TRACKED, [("n", "descending")]))
        self._counted = merged

    @property
    def counts(self) -> Counter[str]:
        """Each distinct value's count (the values counted, when capped)."""
        self._merge()
        if self._counted is None:
            return Counter()
        values, counts = self._counted["value"].to_pylist(), self._counted["n"].to_pylist()
        return Counter(dict(zip(values, counts, strict=True)))

    def _numbers(self, cells: pa.Array) -> None:
        try:
            numbers = pc.cast(cells, pa.float64()).to_numpy()
        except pa.ArrowInvalid:
            self.numeric = False
            return
        if not np.isfinite(numbers).all():  # "inf" parses, yet columns.to_float refuses it
            self.numeric = False
            return
        self.numbers.add(numbers)
        self.whole = self.whole and bool(np.all(numbers == np.round(numbers)))

    def _timestamps(self, cells: pa.Array) -> None:
        if not _looks_like_dates(self.first):
            self.datetime = False
            return
        try:  # the fast path: plain ISO dates and times, no zone offsets
            seconds = pc.cast(pc.cast(cells, pa.timestamp("s")), pa.int64()).to_numpy()
            seconds = seconds.astype(np.float64)
        except pa.ArrowInvalid:
            seconds = to_seconds(np.asarray(cells.to_pylist(), dtype=object))
        if np.isnan(seconds).any():
            self.datetime = False
            return
        self.seconds.add(seconds)

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def distinct(self) -> int:
        """Distinct values (of numbers: distinct numbers, "1" and "1.0" being one)."""
        self._merge()
        if self._counted is None:
            return 0
        if self.kind == "numeric" and not self.capped:
            return len(pc.unique(pc.cast(self._counted["value"], pa.float64())))
        return self._counted.num_rows

    @property
    def kind(self) -> str:
        """numeric, boolean, datetime, categorical or text: as columns.infer_kind."""
        if not self.present:
            return "categorical"
        if self.numeric:
            return "numeric"
        if self.boolean:
            return "boolean"
        if self.datetime:
            return "datetime"
        self._merge()
        texts = self._counted.num_rows if self._counted is not None else 0
        many = self.capped or texts > TEXT_MIN_DISTINCT_SHARE * self.present
        if self.length / self.present > TEXT_MIN_MEAN_LENGTH and many:
            return "text"
        return "categorical"


def _text(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
