"""The data set pages' figures: pure functions from a profile to a Plotly figure."""

import numpy as np
import plotly.graph_objects as go

_LAYOUT = {
    "margin": {"l": 40, "r": 10, "t": 30, "b": 30},
    "height": 220,
    "showlegend": False,
}


def histogram(column: dict) -> go.Figure | None:
    """Bars of a numeric column's profile histogram (None when it has none)."""
    hist = column.get("histogram") or {}
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    if len(edges) != len(counts) + 1 or not counts:
        return None
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    fig = go.Figure(go.Bar(x=centers, y=counts, width=widths, marker_line_width=0))
    fig.update_layout(title={"text": column["name"], "font": {"size": 13}}, **_LAYOUT)
    return fig


def top_values(column: dict) -> go.Figure | None:
    """Bars of a categorical column's most frequent values."""
    top = column.get("top") or []
    if not top:
        return None
    fig = go.Figure(go.Bar(x=[str(t["value"]) for t in top], y=[t["count"] for t in top]))
    fig.update_layout(title={"text": column["name"], "font": {"size": 13}}, **_LAYOUT)
    return fig


def timeline(column: dict) -> go.Figure | None:
    """Rows per time bin of a date column (the profile's timeline), on a date axis."""
    line = column.get("timeline") or {}
    edges, counts = line.get("edges") or [], line.get("counts") or []
    if len(edges) != len(counts) + 1 or not counts:
        return None
    stamps = np.asarray(edges, dtype="datetime64[s]")
    widths = np.diff(stamps).astype("timedelta64[ms]").astype(np.int64)  # a date axis: ms
    centers = stamps[:-1] + np.diff(stamps) // 2
    fig = go.Figure(
        go.Bar(x=[str(c) for c in centers], y=counts, width=widths.tolist(), marker_line_width=0)
    )
    fig.update_layout(
        title={"text": f"{column['name']}: rows over time", "font": {"size": 13}},
        xaxis={"type": "date", "title": column["name"]},
        yaxis={"title": "rows"},
        **_LAYOUT,
    )
    return fig


def class_balance(target: dict) -> go.Figure | None:
    """Rows per class of a classification target."""
    classes = target.get("classes") or []
    if not classes:
        return None
    fig = go.Figure(go.Bar(x=[str(c["value"]) for c in classes], y=[c["count"] for c in classes]))
    fig.update_layout(
        title={"text": f"{target['name']}: rows per class", "font": {"size": 13}}, **_LAYOUT
    )
    return fig


def column_figure(column: dict) -> go.Figure | None:
    """A histogram for numbers, rows over time for dates, the most frequent values for
    categories and booleans."""
    column_kind = column.get("kind")  # the profile's kind of the column
    if column_kind == "datetime":
        return timeline(column)
    if column_kind == "boolean" or not column.get("histogram"):
        return top_values(column)
    return histogram(column)
