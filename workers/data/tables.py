"""Uploaded tables read column by column, in batches, through pyarrow.

CSV (delimiter and encoding found by workers.data.files), Parquet, Excel (.xlsx, first
sheet, through openpyxl in read-only mode) and JSON lines all reach the platform the same
way: `iter_batches` yields lists of pyarrow string arrays, one per column, at most
BATCH_ROWS rows each, with cells stripped and missing-value tokens (columns.MISSING) null.
Typed cells (Parquet numbers, dates, booleans; Excel numbers) are written as text first, so
that one set of parsers (workers.data.columns) reads every format alike and a Parquet file
gives the same profile and the same model as a CSV of the same content.

Nothing here holds more than one batch of a file; `read_table` alone builds the whole
N x C object array that training needs.
"""

from __future__ import annotations

import csv
import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workers.data.columns import MISSING
from workers.data.files import (
    HEAD_BYTES,
    DataFileError,
    check_header,
    detect_delimiter,
    detect_encoding,
    first_ragged_row,
    refuse_binary,
)
from workers.data.summary import ColumnSummary

FORMATS = ("csv", "parquet", "xlsx", "jsonl")
BATCH_ROWS = 65_536
CSV_BLOCK_BYTES = 4 << 20
# An .xlsx is a zip of XML: refuse one whose parts would unpack past this many times the
# file's size (a decompression bomb) before openpyxl reads any of it.
XLSX_MAX_RATIO = 100
# Every capitalisation of the missing-value tokens ("NA", "Null", ...): matching them is
# cheaper than lower-casing every cell first.
_MISSING = pa.array(
    sorted(
        {
            "".join(chars)
            for token in MISSING
            for chars in itertools.product(*({c.lower(), c.upper()} for c in token))
        }
    ),
    pa.string(),
)


@dataclass
class TableLayout:
    """How an uploaded table is stored, as `inspect_table` found it."""

    format: str
    columns: list[str]
    n_rows: int
    encoding: str = ""  # CSV only
    delimiter: str = ""  # CSV only
    header_line: int = 0  # CSV: 0-based line of the header (blank lines may precede it)

    def as_dict(self) -> dict:
        if self.format == "csv":
            blank_lines = {"header_line": self.header_line} if self.header_line else {}
            return {"encoding": self.encoding, "delimiter": self.delimiter, **blank_lines}
        return {"format": self.format}

    @classmethod
    def stored(cls, fmt: str, file_layout: dict, columns: list[str], n_rows: int):
        """The layout of a stored data set (Dataset.file_layout plus its columns)."""
        return cls(
            fmt,
            list(columns),
            n_rows,
            file_layout.get("encoding", ""),
            file_layout.get("delimiter", ""),
            file_layout.get("header_line", 0),
        )


# --- cells


def clean(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Any typed column as stripped strings, missing-value tokens null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_boolean(column.type):
        column = pc.if_else(column, "true", "false")
    elif pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        column = pc.strftime(
            column, "%Y-%m-%d %H:%M:%S" if pa.types.is_timestamp(column.type) else "%Y-%m-%d"
        )
    elif pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
        raise DataFileError(f"a column holds {column.type} values; only flat values are accepted")
    strings = pc.utf8_trim_whitespace(column.cast(pa.string()))
    return pc.if_else(pc.is_in(strings, _MISSING), None, strings)


# --- inspecting


def table_layout(path: Path, fmt: str, max_columns: int) -> TableLayout:
    """How a table file is written and its checked header (rows not counted yet)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise DataFileError("the file is empty")
    return _LAYOUTS[fmt](path, max_columns)


def check_rows(path: Path, layout: TableLayout, summarise: int | None = None):
    """Read every row, one batch at a time, and set layout.n_rows; DataFileError if the
    file is bad. Returns the ColumnSummary of column `summarise` (None: no summary), so
    that an upload's target is checked in the same pass."""
    summary = ColumnSummary() if summarise is not None else None
    n_rows = 0
    try:
        for batch in iter_batches(path, layout):
            n_rows += len(batch[0])
            if summary is not None:
                summary.add(batch[summarise])
    except pa.ArrowInvalid as exc:
        raise _unreadable(path, layout, exc) from None
    if n_rows == 0:
        raise DataFileError("the file has a header but no data rows")
    layout.n_rows = n_rows
    return summary


def inspect_table(path: Path, fmt: str, max_columns: int) -> TableLayout:
    """Check a table file completely (header and rows); DataFileError if it is bad."""
    layout = table_layout(path, fmt, max_columns)
    check_rows(path, layout)
    return layout


def _unreadable(path: Path, layout: TableLayout, exc: Exception) -> DataFileError:
    if layout.format == "csv":
        ragged = first_ragged_row(path, layout.encoding, layout.delimiter)
        if ragged:
            return DataFileError(ragged)
        if "UTF8" in str(exc) or "NUL" in str(exc):
            return DataFileError("the file is binary, not a CSV text file")
        return DataFileError(f"the file is not valid CSV: {exc}")
    return DataFileError(f"the file is not a valid {layout.format} file: {exc}")


def _csv_layout(path: Path, max_columns: int) -> TableLayout:
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    encoding = detect_encoding(path)
    refuse_binary(head, encoding)
    text = head.decode(encoding, errors="ignore")
    if not text.strip():
        raise DataFileError("the file is empty (it holds only blank lines)")
    delimiter = detect_delimiter(text)
    lines = text.splitlines()
    header_line = next(i for i, line in enumerate(lines) if line.strip())
    header = next(csv.reader([lines[header_line]], delimiter=delimiter))
    columns = check_header(header, max_columns)
    return TableLayout("csv", columns, 0, encoding, delimiter, header_line)


def _parquet_layout(path: Path, max_columns: int) -> TableLayout:
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(path).schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFileError(f"not a valid Parquet file: {exc}") from None
    return TableLayout("parquet", check_header(schema.names, max_columns), 0)


def _xlsx_layout(path: Path, max_columns: int) -> TableLayout:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise DataFileError("not a valid .xlsx file (it is not a zip archive)") from None
    if unpacked > XLSX_MAX_RATIO * path.stat().st_size:
        raise DataFileError(
            f"the .xlsx unpacks to {unpacked} bytes, more than {XLSX_MAX_RATIO} times its size"
        )
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        header = next(_xlsx_rows(path), None)
    except (InvalidFileException, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataFileError(f"not a valid .xlsx file: {exc}") from None
    if header is None:
        raise DataFileError("the file is empty (its first sheet has no rows)")
    return TableLayout("xlsx", check_header([_text(c) or "" for c in header], max_columns), 0)


def _jsonl_layout(path: Path, max_columns: int) -> TableLayout:
    import pyarrow.json as pj

    try:
        reader = pj.open_json(path, read_options=pj.ReadOptions(block_size=CSV_BLOCK_BYTES))
    except pa.ArrowInvalid as exc:
        raise DataFileError(f"not valid JSON lines (one object per line): {exc}") from None
    return TableLayout("jsonl", check_header(reader.schema.names, max_columns), 0)


_LAYOUTS = {
    "csv": _csv_layout,
    "parquet": _parquet_layout,
    "xlsx": _xlsx_layout,
    "jsonl": _jsonl_layout,
}


# --- reading


def iter_batches(
    path: Path, layout: TableLayout, usecols: list[int] | None = None
) -> Iterator[list[pa.Array]]:
    """The file's rows in batches: per batch, one cleaned string array per picked column."""
    picks = list(range(len(layout.columns))) if usecols is None else list(usecols)
    for batch in _READERS[layout.format](Path(path), layout):
        if batch.num_columns != len(layout.columns):
            raise DataFileError("the file changed since it was checked")
        if batch.num_rows:
            yield [clean(batch.column(j)) for j in picks]


def _csv_batches(path: Path, layout: TableLayout) -> Iterator[pa.RecordBatch]:
    import pyarrow.csv as pv

    names = [str(i) for i in range(len(layout.columns))]

    def blank_or_error(row) -> str:
        return "skip" if not row.text.strip(" \t\r\n" + layout.delimiter) else "error"

    reader = pv.open_csv(
        path,
        read_options=pv.ReadOptions(
            encoding="utf8" if layout.encoding.startswith("utf-8") else layout.encoding,
            column_names=names,
            skip_rows=layout.header_line + 1,
            block_size=CSV_BLOCK_BYTES,
        ),
        parse_options=pv.ParseOptions(
            delimiter=layout.delimiter, newlines_in_values=True, invalid_row_handler=blank_or_error
        ),
        convert_options=pv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    yield from reader


def _parquet_batches(path: Path, layout: TableLayout) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)


def _jsonl_batches(path: Path, layout: TableLayout) -> Iterator[pa.RecordBatch]:
    import pyarrow.json as pj

    # The schema is inferred from the first block; whole numbers there may be fractions
    # later on, so integers are read as floats (they are text to the platform anyway).
    first = pj.open_json(path, read_options=pj.ReadOptions(block_size=CSV_BLOCK_BYTES))
    schema = pa.schema(
        pa.field(f.name, pa.float64()) if pa.types.is_integer(f.type) else f for f in first.schema
    )
    reader = pj.open_json(
        path,
        read_options=pj.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
    )
    yield from reader


def _xlsx_rows(path: Path) -> Iterator[tuple]:
    import openpyxl

    # A file object: openpyxl judges a path by its suffix, and uploads are stored unnamed.
    with path.open("rb") as f:
        book = openpyxl.load_workbook(f, read_only=True, data_only=True)
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                if any(cell is not None and str(cell).strip() for cell in row):
                    yield row
        finally:
            book.close()


def _xlsx_batches(path: Path, layout: TableLayout) -> Iterator[pa.RecordBatch]:
    width = len(layout.columns)
    rows = _xlsx_rows(path)
    next(rows)  # the header
    chunk: list[list] = []
    for number, row in enumerate(rows, start=2):
        cells = [_text(c) for c in row]
        if any(c not in (None, "") for c in cells[width:]):
            raise DataFileError(f"row {number} has values beyond the header's {width} columns")
        chunk.append(cells[:width] + [None] * (width - len(cells)))
        if len(chunk) == BATCH_ROWS:
            yield _record_batch(chunk, width)
            chunk = []
    if chunk:
        yield _record_batch(chunk, width)


def _record_batch(rows: list[list], width: int) -> pa.RecordBatch:
    columns = [pa.array([row[j] for row in rows], pa.string()) for j in range(width)]
    return pa.RecordBatch.from_arrays(columns, names=[str(j) for j in range(width)])


def _text(cell: object) -> str | None:
    """An Excel cell as the text a CSV export would hold (whole floats without '.0')."""
    if cell is None or isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if hasattr(cell, "isoformat"):
        text = cell.isoformat(sep=" ") if hasattr(cell, "hour") else cell.isoformat()
        return text.removesuffix(" 00:00:00")
    return str(cell)


_READERS = {
    "csv": _csv_batches,
    "parquet": _parquet_batches,
    "xlsx": _xlsx_batches,
    "jsonl": _jsonl_batches,
}


def read_table(path: Path, layout: TableLayout, usecols: list[int] | None = None) -> np.ndarray:
    """The file's cells as an N x C object array (C = len(usecols), default every column):
    stripped strings, None for missing. The file must have passed inspect_table."""
    picks = list(range(len(layout.columns))) if usecols is None else list(usecols)
    out = np.empty((layout.n_rows, len(picks)), dtype=object)
    start = 0
    for batch in iter_batches(path, layout, picks):
        stop = start + len(batch[0])
        if stop > layout.n_rows:
            raise DataFileError("the file changed since it was checked")
        for j, column in enumerate(batch):
            out[start:stop, j] = column.to_numpy(zero_copy_only=False)
        start = stop
    if start != layout.n_rows:
        raise DataFileError("the file changed since it was checked")
    return out
