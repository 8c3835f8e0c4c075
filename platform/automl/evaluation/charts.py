"""The evaluation section's figures: pure functions from a report (JSON) to a Plotly
figure, None when the report has nothing to draw."""

from __future__ import annotations

import plotly.graph_objects as go

from automl.charts import COLOURS

_LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "height": 360,
}
DIAGONAL = {"dash": "dot", "color": "#999999"}


def _title(fig: go.Figure, text: str, x: str, y: str) -> go.Figure:
    fig.update_layout(title={"text": text, "font": {"size": 14}}, **_LAYOUT)
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig


def confusion_matrix(report: dict) -> go.Figure | None:
    matrix = report.get("confusion_matrix")
    if not matrix:
        return None
    names = [str(c) for c in report["classes"]]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _title(fig, "Confusion matrix", "predicted class", "true class")


def roc(report: dict) -> go.Figure | None:
    curves = report.get("roc")
    if not curves:
        return None
    fig = go.Figure(
        [
            go.Scatter(
                x=c["fpr"], y=c["tpr"], mode="lines", name=f"{c['class']} (AUC {c['auc']:.3f})"
            )
            for c in curves
        ]
    )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=DIAGONAL, name="chance"))
    return _title(
        fig,
        "ROC" + (" (one vs rest)" if len(curves) > 1 else ""),
        "false positive rate",
        "true positive rate",
    )


def precision_recall(report: dict) -> go.Figure | None:
    curves = report.get("pr")
    if not curves:
        return None
    fig = go.Figure(
        [
            go.Scatter(
                x=c["recall"],
                y=c["precision"],
                mode="lines",
                name=f"{c['class']} (AP {c['average_precision']:.3f})",
            )
            for c in curves
        ]
    )
    return _title(
        fig,
        "Precision-recall" + (" (one vs rest)" if len(curves) > 1 else ""),
        "recall",
        "precision",
    )


def calibration(report: dict) -> go.Figure | None:
    cal = report.get("calibration")
    if not cal or not cal["predicted"]:
        return None
    fig = go.Figure(
        [
            go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name="model"),
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=DIAGONAL, name="perfect"),
        ]
    )
    return _title(
        fig, f"Calibration (Brier {cal['brier']:.3f})", f"mean {cal['kind']}", "observed frequency"
    )


def predicted_vs_actual(report: dict) -> go.Figure | None:
    res = report.get("residuals")
    if not res:
        return None
    low = min(min(res["actual"]), min(res["predicted"]))
    high = max(max(res["actual"]), max(res["predicted"]))
    fig = go.Figure(
        [
            go.Scatter(
                x=res["actual"],
                y=res["predicted"],
                mode="markers",
                name="rows",
                marker={"opacity": 0.6},
            ),
            go.Scatter(x=[low, high], y=[low, high], mode="lines", line=DIAGONAL, name="perfect"),
        ]
    )
    return _title(fig, "Predicted vs actual", "actual", "predicted")


def residuals(report: dict) -> go.Figure | None:
    res = report.get("residuals")
    if not res:
        return None
    fig = go.Figure(
        go.Scatter(
            x=res["predicted"],
            y=res["residual"],
            mode="markers",
            marker={"opacity": 0.6},
            name="rows",
        )
    )
    fig.add_hline(y=0, line=DIAGONAL)
    return _title(
        fig,
        f"Residuals (mean {res['mean']:.3g}, std {res['std']:.3g})",
        "predicted",
        "actual - predicted",
    )


def permutation_importance(report: dict) -> go.Figure | None:
    found = report.get("importances")
    if not found or not found["features"]:
        return None
    items = list(reversed(found["features"][:20]))  # most important on top
    fig = go.Figure(
        go.Bar(
            x=[f["mean"] for f in items],
            y=[f["feature"] for f in items],
            orientation="h",
            error_x={"type": "data", "array": [f["std"] for f in items]},
        )
    )
    return _title(
        fig, "Permutation importance", f"drop in {found['metric']} when shuffled", "feature"
    )


FIGURES = (confusion_matrix, roc, precision_recall, calibration, predicted_vs_actual, residuals)


def _overlay(
    reports: list[tuple[str, dict]], key: str, x: str, y: str, score: str, score_name: str
) -> go.Figure | None:
    """The curves under `key` of several versions' reports on one chart, one colour and
    legend group per version (each of its classes' curves dashed differently)."""
    traces = []
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    for i, (label, report) in enumerate(reports):
        for j, c in enumerate(report.get(key) or ()):
            traces.append(
                go.Scatter(
                    x=c[x],
                    y=c[y],
                    mode="lines",
                    name=f"{label}: {c['class']} ({score_name} {c[score]:.3f})",
                    legendgroup=label,
                    line={"color": COLOURS[i % len(COLOURS)], "dash": dashes[j % len(dashes)]},
                )
            )
    return go.Figure(traces) if traces else None


def roc_overlay(reports: list[tuple[str, dict]]) -> go.Figure | None:
    """The ROC curves of the compared versions (label, evaluation report) on one chart."""
    fig = _overlay(reports, "roc", "fpr", "tpr", "auc", "AUC")
    if fig is None:
        return None
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=DIAGONAL, name="chance"))
    return _title(fig, "ROC of the compared versions", "false positive rate", "true positive rate")


def pr_overlay(reports: list[tuple[str, dict]]) -> go.Figure | None:
    """The precision-recall curves of the compared versions on one chart."""
    fig = _overlay(reports, "pr", "recall", "precision", "average_precision", "AP")
    if fig is None:
        return None
    return _title(fig, "Precision-recall of the compared versions", "recall", "precision")
