"""Plotly figures of the monitoring pages: pure functions from data to a figure."""

from __future__ import annotations

import plotly.graph_objects as go


def jobs_by_status(metrics: dict) -> go.Figure:
    """Jobs submitted per hour, stacked by their status now."""
    hours = [row["hour"] for row in metrics["jobs_per_hour"]]
    fig = go.Figure()
    for status in metrics["jobs_by_status"]:
        fig.add_bar(
            name=status, x=hours, y=[row.get(status, 0) for row in metrics["jobs_per_hour"]]
        )
    fig.update_layout(
        barmode="stack",
        title="Jobs submitted per hour, by status",
        xaxis_title="hour submitted (UTC)",
        yaxis_title="jobs",
        margin={"t": 40, "b": 30},
    )
    return fig


def job_durations(metrics: dict) -> go.Figure:
    rows = metrics["durations"]
    fig = go.Figure(
        go.Scatter(
            x=[r["finished_at"] for r in rows],
            y=[r["seconds"] for r in rows],
            mode="markers",
            text=[f"job {r['job']} ({r['kind']}, {r['status']})" for r in rows],
        )
    )
    fig.update_layout(
        title="Job durations",
        xaxis_title="finished at (UTC)",
        yaxis_title="duration (s)",
        margin={"t": 40, "b": 30},
    )
    return fig


def queue_depths(queues: dict, housekeeping: dict) -> go.Figure:
    """Waiting messages per queue, users' work stacked on Celery beat's housekeeping."""
    names = list(queues)
    chores = [housekeeping.get(q) or 0 for q in names]
    work = [(queues[q] or 0) - n for q, n in zip(names, chores, strict=True)]
    fig = go.Figure()
    fig.add_bar(name="jobs and users' tasks", x=names, y=work)
    fig.add_bar(name="housekeeping (beat)", x=names, y=chores)
    fig.update_layout(
        barmode="stack",
        title="Messages waiting per queue",
        xaxis_title="queue",
        yaxis_title="messages",
        margin={"t": 40, "b": 30},
    )
    return fig


def feature_histogram(name: str, feature: dict) -> go.Figure:
    """Reference vs current shares per bin (or category) of one feature."""
    histogram = feature["histogram"]
    fig = go.Figure()
    fig.add_bar(name="reference (training)", x=histogram["labels"], y=histogram["reference"])
    fig.add_bar(name="current window", x=histogram["labels"], y=histogram["current"])
    if not feature.get("judged", True):  # reports stored before "judged" judged all
        verdict = f"not judged ({feature.get('not_judged') or 'too few rows'})"
    else:
        verdict = "DRIFTED" if feature["drifted"] else "no drift"
    title = f"{name}: {verdict}"
    fig.update_layout(
        barmode="group",
        title=title,
        xaxis_title=f"{name} (bin or category)",
        yaxis_title="share of rows (0–1)",
        margin={"t": 40, "b": 30},
    )
    return fig


def drift_history(reports: list[dict]) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[r["created_at"] for r in reports],
            y=[r["drifted_share"] for r in reports],
            mode="lines+markers",
        )
    )
    fig.update_layout(
        title="Drifted feature share per report",
        xaxis_title="report time (UTC)",
        yaxis_title="share of features drifted (0–1)",
        yaxis_range=[0, 1],
        margin={"t": 40, "b": 30},
    )
    return fig


def live_accuracy(performance: dict) -> go.Figure:
    fig = go.Figure()
    keys = []
    for entry in performance["versions"]:
        key = "accuracy" if entry["task"] == "classification" else "mae"
        keys.append(key)
        fig.add_scatter(
            name=f"version {entry['version']} {key}",
            mode="lines+markers",
            x=[d["day"] for d in entry["daily"]],
            y=[d["metrics"].get(key) for d in entry["daily"]],
        )
    fig.update_layout(
        title="Live performance from feedback",
        xaxis_title="day (UTC)",
        yaxis_title=" or ".join(dict.fromkeys(keys)) or "metric",
        margin={"t": 40, "b": 30},
    )
    return fig
