"""Uploaded data files: how a CSV is written (comma, semicolon or tab; UTF-8, UTF-8 with
BOM or Latin-1), its header's checks, and .npz files (arrays X and y, loaded without
pickle). Tables of every format are read by workers.data.tables.

Errors are DataFileError, with a message meant for the person who uploaded the file.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DELIMITERS = (",", ";", "\t")
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1")
HEAD_BYTES = 64 * 1024
CHUNK = 1 << 20
# Share of control characters (other than tab and line ends) beyond which a "CSV" is
# taken to be a binary file: Latin-1 decodes any byte, so decoding alone cannot tell.
MAX_CONTROL_SHARE = 0.01
csv.field_size_limit(16 * 1024 * 1024)


class DataFileError(ValueError):
    """The file cannot be used; `field` names the form field at fault ("file", "target")."""

    def __init__(self, message: str, field: str = "file") -> None:
        self.field = field
        super().__init__(message)


@dataclass
class NpzLayout:
    """Shapes and dtypes of an .npz file's X and y, as found by inspect_npz."""

    x_shape: tuple[int, ...]
    y_shape: tuple[int, ...]
    x_dtype: str
    y_dtype: str
    kind: str = field(init=False)  # "table" (N x F) or "images" (N x H x W, N x C x H x W)

    def __post_init__(self) -> None:
        self.kind = "table" if len(self.x_shape) == 2 else "images"


# --- CSV


def detect_encoding(path: Path) -> str:
    """utf-8-sig (BOM), utf-8 if every byte decodes, else latin-1 (which decodes any byte)."""
    with path.open("rb") as f:
        head = f.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def refuse_binary(head: bytes, encoding: str) -> None:
    if b"\x00" in head:
        raise DataFileError("the file is binary, not a CSV text file (it contains NUL bytes)")
    text = head.decode(encoding, errors="replace")
    control = sum(
        1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or 0x7F <= ord(ch) <= 0x9F
    )
    if text and control / len(text) > MAX_CONTROL_SHARE:
        raise DataFileError("the file is binary, not a CSV text file (it contains control bytes)")


def detect_delimiter(head_text: str) -> str:
    """The delimiter that splits the first lines into the most fields, the same for each."""
    lines = [line for line in head_text.splitlines() if line.strip()][:21]
    if len(lines) > 1 and len(head_text) >= HEAD_BYTES - 4:
        lines = lines[:-1]  # the last line may be cut off mid-row
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=delimiter) if row}
        except csv.Error:
            continue
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = delimiter, fields
    return best


def check_header(names: list[str], max_columns: int) -> list[str]:
    """The header's column names, stripped; DataFileError if there are too many, one has no
    name, or one appears twice."""
    if len(names) > max_columns:
        raise DataFileError(
            f"the file has {len(names)} columns; at most {max_columns} are allowed"
        )
    columns = [str(name).strip() for name in names]
    for i, name in enumerate(columns):
        if not name:
            raise DataFileError(f"column {i + 1} of the header has no name")
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise DataFileError(f"the header names these columns twice: {', '.join(twice)}")
    return columns


def first_ragged_row(path: Path, encoding: str, delimiter: str) -> str | None:
    """What is wrong with the first row whose field count differs from the header's, or
    None. The slow path of a file pyarrow refused: Python's csv module counts lines."""
    with Path(path).open("r", encoding=encoding, newline="", errors="replace") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            width = None
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue  # blank lines carry no data
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    return (
                        f"row {reader.line_num} has {len(row)} fields but the header has "
                        f"{width} (rows must all have as many fields as the header)"
                    )
        except csv.Error as exc:
            return f"line {reader.line_num} is not valid CSV: {exc}"
    return None


# --- npz


def _npy_header(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one array in an .npz, read from its header without loading it."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return tuple(shape), dtype


def inspect_npz(path: Path, max_bytes: int) -> NpzLayout:
    """Check an .npz holding X (N x F, N x H x W or N x C x H x W) and y (N); DataFileError.

    Arrays' headers are read before their data: object arrays are refused without ever
    unpickling, and arrays whose data would exceed max_bytes are refused before loading.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise DataFileError("the file is empty")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {Path(n).stem: n for n in archive.namelist() if n.endswith(".npy")}
            missing = [name for name in ("X", "y") if name not in members]
            if missing:
                raise DataFileError(
                    f"the .npz must hold arrays named X and y; {' and '.join(missing)} missing"
                )
            headers = {name: _npy_header(archive, members[name]) for name in ("X", "y")}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataFileError(f"not a valid .npz file: {exc}") from None
    except ValueError as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(f"not a valid .npz file: {exc}") from None
    for name, (shape, dtype) in headers.items():
        if dtype.hasobject:
            raise DataFileError(
                f"array {name} holds Python objects; only numeric arrays are accepted "
                "(object arrays would need pickle, which is never used)"
            )
        if dtype.kind not in "biuf":
            raise DataFileError(f"array {name} has dtype {dtype}; it must be numeric")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size > max_bytes:
            raise DataFileError(f"array {name} holds {size} bytes; at most {max_bytes} allowed")
    (x_shape, x_dtype), (y_shape, y_dtype) = headers["X"], headers["y"]
    if len(x_shape) not in (2, 3, 4):
        raise DataFileError(
            f"X has shape {x_shape}; it must be N x features, N x H x W or N x C x H x W"
        )
    if len(y_shape) != 1 or y_shape[0] != x_shape[0]:
        raise DataFileError(
            f"y has shape {y_shape}; it must be one value per row of X ({x_shape[0]})"
        )
    if x_shape[0] == 0:
        raise DataFileError("X has no rows")
    X, y = read_npz(path)
    for name, array in (("X", X), ("y", y)):
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise DataFileError(f"array {name} holds {bad} NaN or infinite value(s)")
    return NpzLayout(x_shape, y_shape, str(x_dtype), str(y_dtype))


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X and y of an .npz, loaded with allow_pickle=False."""
    try:
        with np.load(Path(path), allow_pickle=False) as archive:
            return archive["X"], archive["y"]
    except ValueError as exc:  # "Object arrays cannot be loaded when allow_pickle=False"
        raise DataFileError(f"the .npz cannot be read without pickle: {exc}") from None
