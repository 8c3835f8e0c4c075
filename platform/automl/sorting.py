"""Server-side sorting of the list pages: `?sort=key` (ascending) or `?sort=-key`
(descending), and headings whose links sort by their column (again: the other way),
keeping the page's other parameters."""

from __future__ import annotations

from urllib.parse import urlencode


def order_by(sort: str, columns: dict[str, tuple[str, ...]], default: list[str]) -> list[str]:
    """The order_by of `sort` over `columns` (key -> the model fields it orders, a leading
    '-' for a field that runs the other way), then the id for a stable order; `default`
    when it names no column."""
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    if key not in columns:
        return default
    fields = [_reversed(f) if descending else f for f in columns[key]]
    return [*fields, "-id" if descending else "id"]


def _reversed(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"


def headings(columns: list[tuple[str, str]], sort: str, kept: dict) -> list[dict]:
    """Each (key, label) column's heading: its aria-sort state and the link that sorts by
    it (descending when it already sorts ascending), with the `kept` parameters."""
    out = []
    for key, label in columns:
        state = {key: "ascending", f"-{key}": "descending"}.get(sort, "none")
        target = f"-{key}" if state == "ascending" else key
        href = "?" + urlencode({**kept, "sort": target}, doseq=True)
        out.append({"label": label, "sort": state, "href": href})
    return out
