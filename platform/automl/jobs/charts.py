"""The job page's figures: pure functions from trials and results to a Plotly figure.

Trials are plain dicts ({"number", "state", "params", "values", "intermediate_values"}),
as the jobs API serves them, so these functions run without a database. Each returns
None when there is nothing to draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from automl.charts import COLOURS

_LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 45},
    "height": 340,
}
# The site's colour-blind-safe colours (Okabe-Ito) for kept and pruned trials.
COMPLETE_COLOUR, PRUNED_COLOUR, BEST_COLOUR = COLOURS[0], COLOURS[3], COLOURS[2]


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _complete(trials: Sequence[dict], index: int = 0) -> list[dict]:
    return [
        t
        for t in trials
        if t.get("state") == "complete"
        and t.get("values")
        and len(t["values"]) > index
        and _finite(t["values"][index])
    ]


def _title(fig: go.Figure, text: str, **axes: str) -> go.Figure:
    fig.update_layout(title={"text": text, "font": {"size": 14}}, **_LAYOUT)
    if "x" in axes:
        fig.update_xaxes(title_text=axes["x"])
    if "y" in axes:
        fig.update_yaxes(title_text=axes["y"])
    return fig


@dataclass(frozen=True)
class History:
    """Every complete trial's first value by trial number, for the history chart: one
    point per trial (bin_size 1), or, for many trials, per bin of `bin_size` consecutive
    trial numbers, its lowest and highest value (so no trial is silently left out)."""

    x: list[int]  # the trial number, or the first number of the bin
    low: list[float]
    high: list[float]
    count: int  # complete trials in all
    bin_size: int = 1

    @classmethod
    def of(cls, trials: Sequence[dict]) -> History:
        """One point per complete trial of `trials` (a small job's, already loaded)."""
        done = sorted(_complete(trials), key=lambda t: t["number"])
        values = [t["values"][0] for t in done]
        return cls([t["number"] for t in done], values, values, len(done))


@dataclass(frozen=True)
class TrialSample:
    """What a job's charts are drawn from: the history of every complete trial, and the
    trials drawn one by one: all of them, or for a big job some (`note` says which)."""

    trials: list[dict]
    history: History
    note: str = ""

    @classmethod
    def of(cls, trials: Sequence[dict]) -> TrialSample:
        return cls(list(trials), History.of(trials))


def optimization_history(history: History, metric: str, direction: str) -> go.Figure | None:
    """Each complete trial's value by trial number (or each bin's range, for many) and the
    best value so far."""
    if not history.count:
        return None
    better = max if direction == "maximize" else min
    best, running = [], None
    for value in history.high if direction == "maximize" else history.low:
        running = value if running is None else better(running, value)
        best.append(running)
    best_line = go.Scatter(
        x=history.x,
        y=best,
        mode="lines",
        name="best so far",
        line={"color": BEST_COLOUR, "shape": "hv"},
    )
    if history.bin_size == 1:
        points = go.Scatter(
            x=history.x,
            y=history.low,
            mode="markers",
            name=metric,
            marker={"color": COMPLETE_COLOUR},
            hovertemplate="trial %{x}<br>" + metric + " %{y:.5g}<extra></extra>",
        )
        fig = _title(go.Figure([points, best_line]), "Optimization history", x="trial", y=metric)
        return fig
    band = dict(mode="lines", line={"width": 0.5, "color": COMPLETE_COLOUR}, legendgroup="b")
    fig = go.Figure(
        [
            go.Scatter(x=history.x, y=history.low, name="lowest in bin", showlegend=False, **band),
            go.Scatter(
                x=history.x,
                y=history.high,
                name=f"{metric}: range of each {history.bin_size} trials",
                fill="tonexty",
                **band,
            ),
            best_line,
        ]
    )
    title = (
        f"Optimization history: {history.count:,} complete trials in bins of "
        f"{history.bin_size} (the band spans each bin's lowest to highest {metric})"
    )
    return _title(fig, title, x="trial (first of its bin)", y=metric)


def _numeric_axis(values: list) -> dict | None:
    """A parcoords dimension's range and ticks: numbers as they are, anything else as
    category indexes (None when the column is empty)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(_finite(v) for v in present):
        return {"values": [v if v is not None else math.nan for v in values]}
    labels = sorted({str(v) for v in present})
    index = {label: i for i, label in enumerate(labels)}
    return {
        "values": [index[str(v)] if v is not None else math.nan for v in values],
        "tickvals": list(range(len(labels))),
        "ticktext": labels,
    }


def parallel_coordinates(
    trials: Sequence[dict], metric: str, params: Sequence[str] | None = None, title: str = ""
) -> go.Figure | None:
    """One line per complete trial through its parameters (`params`, in that order; every
    one the trials have by default), coloured by its value."""
    done = _complete(trials)
    names = (
        list(params)
        if params is not None
        else sorted({n for t in done for n in t.get("params") or {}})
    )
    dimensions = []
    for name in names:
        axis = _numeric_axis([t.get("params", {}).get(name) for t in done])
        if axis is not None:
            dimensions.append({"label": name, **axis})
    if not done or not dimensions:
        return None
    values = [t["values"][0] for t in done]
    dimensions.append({"label": metric, "values": values})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": values,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": metric}},
            },
            dimensions=dimensions,
        )
    )
    fig = _title(fig, title or "Parallel coordinates")
    fig.update_layout(margin={"t": 90})  # room for the axis labels under the title
    return fig


def _having(trials: Sequence[dict], names: Sequence[str]) -> list[dict]:
    """The complete trials that have every one of `names` among their parameters."""
    return [t for t in _complete(trials) if all(n in (t.get("params") or {}) for n in names)]


def _placed(values: list, axis: dict) -> dict:
    """An axis's layout for values placed by _numeric_axis: category labels at their
    indexes, or a log axis for positive numbers spanning two decades or more (as a log
    search space does)."""
    if "ticktext" in axis:
        return {"tickvals": axis["tickvals"], "ticktext": axis["ticktext"]}
    present = [v for v in values if _finite(v)]
    if present and min(present) > 0 and max(present) / min(present) >= 100:
        return {"type": "log"}
    return {}


def contour(
    trials: Sequence[dict], metric: str, x: str, y: str, title: str = ""
) -> go.Figure | None:
    """The objective over a pair of parameters: a contour interpolated between the trials
    (Plotly fills the grid of their x and y values, connecting the gaps, much as Optuna's
    plot_contour interpolates its grid), each trial a dot over it."""
    done = _having(trials, [x, y])
    if x == y or len(done) < 2:
        return None
    xs = _numeric_axis([t["params"][x] for t in done])
    ys = _numeric_axis([t["params"][y] for t in done])
    values = [t["values"][0] for t in done]
    hover = [f"trial {t['number']}<br>{metric} {t['values'][0]:.5g}" for t in done]
    fig = go.Figure(
        [
            go.Contour(
                x=xs["values"],
                y=ys["values"],
                z=values,
                connectgaps=True,
                colorscale="Blues",
                colorbar={"title": {"text": metric}},
                hoverinfo="skip",
                name=metric,
            ),
            go.Scatter(
                x=xs["values"],
                y=ys["values"],
                mode="markers",
                name="trials",
                text=hover,
                hovertemplate="%{text}<extra></extra>",
                marker={"color": "#000000", "size": 5, "line": {"width": 1, "color": "#ffffff"}},
            ),
        ]
    )
    fig = _title(fig, title or f"Contour of {metric}: {x} and {y}", x=x, y=y)
    fig.update_xaxes(**_placed(xs["values"], xs))
    fig.update_yaxes(**_placed(ys["values"], ys))
    fig.update_layout(showlegend=False)
    return fig


def slices(
    trials: Sequence[dict], metric: str, params: Sequence[str], title: str = ""
) -> go.Figure | None:
    """The objective against each parameter alone, side by side (Optuna's plot_slice):
    one dot per complete trial that has the parameter, darker for later trials."""
    names = [n for n in params if _having(trials, [n])]
    if not names:
        return None
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.03)
    for col, name in enumerate(names, start=1):
        done = _having(trials, [name])
        axis = _numeric_axis([t["params"][name] for t in done])
        fig.add_trace(
            go.Scatter(
                x=axis["values"],
                y=[t["values"][0] for t in done],
                mode="markers",
                name=name,
                text=[f"trial {t['number']}" for t in done],
                hovertemplate="%{text}<br>" + name + " %{x}<br>" + metric + " %{y:.5g}"
                "<extra></extra>",
                marker={
                    "color": [t["number"] for t in done],
                    "colorscale": "Blues",
                    "showscale": col == 1,
                    "colorbar": {"title": {"text": "trial"}},
                    "line": {"width": 0.5, "color": "#333333"},
                },
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text=name, row=1, col=col, **_placed(axis["values"], axis))
    fig = _title(fig, title or f"Slice: {metric} by each parameter")
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(showlegend=False)
    return fig


def edf(
    groups: dict[str, Sequence[float]], metric: str, max_points: int = 500
) -> go.Figure | None:
    """The empirical distribution function of the objective, one line per group of
    complete trials' values (Optuna's plot_edf draws one per study): at each value, the
    share of the group that scored at most that. A line that rises further left scores
    lower. A big group's line is drawn through `max_points` evenly spaced ranks, exact
    at each."""
    fig = go.Figure()
    for name, found in groups.items():
        values = sorted(v for v in found if _finite(v))
        if not values:
            continue
        step = max(1, math.ceil(len(values) / max_points))
        ranks = [*range(step - 1, len(values), step)]
        if ranks[-1] != len(values) - 1:
            ranks.append(len(values) - 1)
        fig.add_trace(
            go.Scatter(
                x=[values[i] for i in ranks],
                y=[100 * (i + 1) / len(values) for i in ranks],
                mode="lines",
                name=f"{name} ({len(values):,} trials)",
                line={"shape": "hv"},
                hovertemplate=name + ": %{y:.1f}% of trials at or below %{x:.5g}<extra></extra>",
            )
        )
    if not fig.data:
        return None
    return _title(
        fig, f"Empirical distribution of {metric}", x=metric, y=f"trials with {metric} ≤ x (%)"
    )


def importances(
    importance: dict[str, float], title: str = "Parameter importances (fANOVA)"
) -> go.Figure | None:
    """Horizontal bars of parameter importances, the most important on top."""
    items = sorted(((k, v) for k, v in importance.items() if _finite(v)), key=lambda kv: kv[1])
    if not items:
        return None
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker={"color": COMPLETE_COLOUR},
        )
    )
    fig = _title(fig, title, x="importance (share of the variance explained)", y="parameter")
    fig.update_layout(height=max(200, 60 + 28 * len(items)))
    return fig


def intermediate_values(trials: Sequence[dict], metric: str) -> go.Figure | None:
    """The learning curve each trial reported; pruned trials dashed in their own colour.
    Each group's curves are one trace (separated by gaps), so hundreds draw quickly."""
    groups: dict[str, tuple[list, list, list]] = {"kept": ([], [], []), "pruned": ([], [], [])}
    for trial in sorted(trials, key=lambda t: t["number"]):
        points = sorted(
            (int(step), value)
            for step, value in (trial.get("intermediate_values") or {}).items()
            if _finite(value)
        )
        if not points:
            continue
        xs, ys, text = groups["pruned" if trial.get("state") == "pruned" else "kept"]
        label = f"trial {trial['number']} ({trial.get('state')})"
        xs.extend([p[0] for p in points] + [None])
        ys.extend([p[1] for p in points] + [None])
        text.extend([label] * len(points) + [None])
    traces = [
        go.Scatter(
            x=xs,
            y=ys,
            text=text,
            mode="lines+markers",
            name=group,
            hovertemplate="%{text}<br>step %{x}: %{y:.5g}<extra></extra>",
            line={
                "color": PRUNED_COLOUR if group == "pruned" else COMPLETE_COLOUR,
                "dash": "dot" if group == "pruned" else "solid",
                "width": 1,
            },
            marker={"size": 4},
        )
        for group, (xs, ys, text) in groups.items()
        if xs
    ]
    if not traces:
        return None
    return _title(go.Figure(traces), "Intermediate values", x="step (epoch)", y=metric)


def pareto_front(
    trials: Sequence[dict], metrics: Sequence[str], front: Sequence[dict]
) -> go.Figure | None:
    """Every complete trial on the first two metrics, the Pareto front highlighted."""
    if len(metrics) < 2:
        return None
    done = _complete(trials, 1)
    if not done:
        return None
    on_front = {t["number"] for t in front}
    rest = [t for t in done if t["number"] not in on_front]
    best = sorted((t for t in done if t["number"] in on_front), key=lambda t: t["values"][0])
    fig = go.Figure()
    for group, colour, size in ((rest, COMPLETE_COLOUR, 7), (best, BEST_COLOUR, 10)):
        if group:
            fig.add_trace(
                go.Scatter(
                    x=[t["values"][0] for t in group],
                    y=[t["values"][1] for t in group],
                    mode="markers",
                    marker={"color": colour, "size": size},
                    name="Pareto front" if group is best else "other trials",
                    hovertext=[f"trial {t['number']}" for t in group],
                )
            )
    return _title(fig, "Pareto front", x=metrics[0], y=metrics[1])


def alpha_heatmap(history: Sequence[dict], axes: dict, cell: str = "normal") -> go.Figure | None:
    """DARTS: softmax(α) of the last epoch, edges by operations, with a slider over epochs."""
    epochs = [h for h in history if h.get(cell)]
    ops, edges = axes.get("ops") or [], axes.get("edges") or []
    if not epochs or not ops:
        return None
    rows = len(epochs[0][cell])
    edges = edges if len(edges) == rows else [f"edge {i}" for i in range(rows)]
    frames = [
        go.Frame(
            data=[go.Heatmap(z=h[cell], x=ops, y=edges, zmin=0, zmax=1)],
            name=str(h.get("epoch", i)),
        )
        for i, h in enumerate(epochs)
    ]
    fig = go.Figure(data=frames[-1].data, frames=frames)
    fig.update_traces(colorscale="Blues", colorbar={"title": {"text": "softmax α"}})
    steps = [
        {
            "label": f.name,
            "method": "animate",
            "args": [[f.name], {"mode": "immediate", "frame": {"duration": 0}}],
        }
        for f in frames
    ]
    fig = _title(
        fig, f"Architecture weights α ({cell} cell) by epoch", x="operation", y="edge (from → to)"
    )
    fig.update_layout(
        sliders=[{"active": len(steps) - 1, "steps": steps, "currentvalue": {"prefix": "epoch "}}],
        height=max(300, 140 + 30 * rows),
        margin={"b": 110},
    )
    return fig


def genotype_graph(genotype: dict) -> go.Figure | None:
    """A genotype as a graph: DARTS cells as nodes and labelled edges, macro/MLP genotypes
    as a chain of layers."""
    if not genotype:
        return None
    if genotype.get("space") == "cell":
        return _cell_graph(genotype)
    layers = genotype.get("layers") or []
    if not layers:
        return None
    labels = (
        ["input"]
        + [
            " ".join(str(v) for k, v in layer.items() if k in ("width", "kernel", "activation"))
            for layer in layers
        ]
        + ["output"]
    )
    xs = list(range(len(labels)))
    fig = go.Figure(
        [
            go.Scatter(
                x=xs, y=[0] * len(xs), mode="lines", line={"color": "#888"}, hoverinfo="skip"
            ),
            go.Scatter(
                x=xs,
                y=[0] * len(xs),
                mode="markers+text",
                text=labels,
                textposition="top center",
                marker={"size": 18, "color": COMPLETE_COLOUR},
            ),
        ]
    )
    fig = _title(fig, f"Found architecture ({genotype.get('space', 'layers')})")
    fig.update_layout(
        showlegend=False,
        height=220,
        xaxis={"visible": False},
        yaxis={"visible": False, "range": [-1, 1.5]},
    )
    return fig


def _cell_graph(genotype: dict) -> go.Figure | None:
    cells = [(kind, genotype[kind]) for kind in ("normal", "reduce") if genotype.get(kind)]
    if not cells:
        return None
    fig = go.Figure()
    for row, (kind, nodes) in enumerate(cells):
        y0 = -3 * row
        # Inputs c_{k-2}, c_{k-1} on the left, intermediate nodes across, output on the right.
        positions = {0: (0, y0 + 1), 1: (0, y0 - 1)}
        for i in range(len(nodes)):
            positions[i + 2] = (i + 1, y0 + (0.6 if i % 2 else -0.6))
        out = (len(nodes) + 1, y0)
        for i, edges in enumerate(nodes):
            for op, source in edges:
                (x0, ya), (x1, yb) = positions.get(source, (0, y0)), positions[i + 2]
                fig.add_trace(
                    go.Scatter(
                        x=[x0, x1],
                        y=[ya, yb],
                        mode="lines",
                        line={"color": "#888"},
                        hoverinfo="skip",
                    )
                )
                fig.add_annotation(
                    x=(x0 + x1) / 2,
                    y=(ya + yb) / 2,
                    text=op,
                    showarrow=False,
                    font={"size": 10},
                    bgcolor="rgba(255,255,255,.8)",
                )
            fig.add_trace(
                go.Scatter(
                    x=[positions[i + 2][0], out[0]],
                    y=[positions[i + 2][1], out[1]],
                    mode="lines",
                    line={"color": "#ccc", "dash": "dot"},
                    hoverinfo="skip",
                )
            )
        labels = {0: "c_{k-2}", 1: "c_{k-1}", **{i + 2: str(i) for i in range(len(nodes))}}
        xs = [positions[k][0] for k in labels] + [out[0]]
        ys = [positions[k][1] for k in labels] + [out[1]]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers+text",
                text=[*labels.values(), f"{kind} out"],
                textposition="bottom center",
                marker={"size": 16, "color": COMPLETE_COLOUR},
            )
        )
    fig = _title(fig, "Found cells (DARTS genotype)")
    fig.update_layout(
        showlegend=False,
        height=200 + 160 * len(cells),
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def compression_points(result: dict) -> list[dict]:
    """The original model and each finished step of a compression job, in chain order:
    {"step" (None for the original), "label", and the step's report: "accuracy",
    "file_bytes", "latency_ms_b1", "latency_ms_b64", ...} each."""
    original = result.get("original")
    if not original:
        return []
    points = [{"step": None, "label": "original", **original}]
    for i, step in enumerate(result.get("steps") or []):
        points.append(
            {
                "step": i,
                "label": f"{i + 1}. {step.get('technique', 'step')}",
                **(step.get("report") or {}),
            }
        )
    return [p for p in points if _finite(p.get("accuracy"))]


def compression_tradeoff(result: dict, cost: str) -> go.Figure | None:
    """Accuracy against a cost (file size or latency at batch 64) for the original model
    and each step, joined in chain order: up and to the left is better."""
    axis = {
        "file_bytes": "file size (KiB)",
        "latency_ms_b64": "latency at batch 64 (ms)",
        "latency_ms_b1": "latency at batch 1 (ms)",
    }[cost]
    points = [p for p in compression_points(result) if _finite(p.get(cost))]
    if not points:
        return None
    scale = 1 / 1024 if cost == "file_bytes" else 1
    fig = go.Figure(
        go.Scatter(
            x=[p[cost] * scale for p in points],
            y=[p["accuracy"] for p in points],
            mode="lines+markers+text",
            text=[p["label"] for p in points],
            textposition="top center",
            name="model",
            line={"color": COMPLETE_COLOUR, "dash": "dot"},
            marker={"size": 10, "color": [BEST_COLOUR] + [COMPLETE_COLOUR] * (len(points) - 1)},
            hovertemplate="%{text}<br>" + axis + " %{x:.4g}<br>accuracy %{y:.4f}<extra></extra>",
        )
    )
    title = "Size vs. accuracy" if cost == "file_bytes" else "Latency vs. accuracy"
    return _title(fig, title, x=axis, y="test accuracy")


# A stage's status -> its colour (the site's colour-blind-safe ones; grey: not yet).
STAGE_COLOURS = {
    "pending": "#bbbbbb",
    "queued": COLOURS[4],
    "running": COLOURS[1],
    "succeeded": COLOURS[2],
    "failed": COLOURS[3],
    "cancelled": COLOURS[7],
}


def pipeline_graph(stages: Sequence[dict]) -> go.Figure | None:
    """A pipeline's stages left to right (coloured by status, a child job's id under its
    stage) above the model versions they made, joined where one model came from another:
    the lineage of what the pipeline ships."""
    if not stages:
        return None
    fig = go.Figure()
    xs = list(range(len(stages)))
    fig.add_trace(
        go.Scatter(x=xs, y=[1] * len(xs), mode="lines", line={"color": "#999"}, hoverinfo="skip")
    )
    made: list[tuple[int, int]] = []  # (stage index, version id), in order
    for i, stage in enumerate(stages):
        version = stage.get("model_version")
        if version is not None and (not made or made[-1][1] != version):
            made.append((i, version))
    for i, _ in made:
        fig.add_trace(
            go.Scatter(
                x=[i, i],
                y=[1, 0],
                mode="lines",
                line={"color": "#ccc", "dash": "dot"},
                hoverinfo="skip",
            )
        )
    if made:
        # Each model was made from the one on its left (a compression of it).
        fig.add_trace(
            go.Scatter(
                x=[i for i, _ in made],
                y=[0] * len(made),
                mode="lines+markers+text",
                line={"color": COMPLETE_COLOUR},
                text=[f"v{version}" for _, version in made],
                textposition="bottom center",
                marker={"size": 14, "color": COMPLETE_COLOUR, "symbol": "square"},
                hovertext=[f"model version {version}" for _, version in made],
                hoverinfo="text",
            )
        )
    labels = [f"{s['label']}" + (f"<br>job {s['job']}" if s.get("job") else "") for s in stages]
    hover = [
        f"{s['label']}: {s['status']}" + (f"<br>{s['detail']}" if s.get("detail") else "")
        for s in stages
    ]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[1] * len(xs),
            mode="markers+text",
            text=labels,
            textposition="top center",
            marker={
                "size": 22,
                "color": [STAGE_COLOURS.get(s["status"], "#bbbbbb") for s in stages],
                "line": {"width": 1, "color": "#333"},
            },
            hovertext=hover,
            hoverinfo="text",
        )
    )
    fig = _title(fig, "Stages (top) and the model versions they made (bottom)")
    fig.update_layout(
        showlegend=False,
        height=300,
        xaxis={"visible": False, "range": [-0.6, len(stages) - 0.4]},
        yaxis={"visible": False, "range": [-0.6, 1.6]},
    )
    return fig
