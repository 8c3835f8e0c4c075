"""The job page's figures: pure functions from trials and results to Plotly figures."""

import math

import pytest

from automl.jobs import charts


def trial(number, value, state="complete", params=None, curve=None):
    return {
        "number": number,
        "state": state,
        "params": params or {},
        "values": None if value is None else ([value] if not isinstance(value, list) else value),
        "intermediate_values": curve or {},
    }


TRIALS = [
    trial(0, 0.70, params={"C": 1.0, "kernel": "rbf"}, curve={"0": 0.5, "1": 0.70}),
    trial(1, 0.90, params={"C": 10.0, "kernel": "linear"}, curve={"0": 0.6, "1": 0.90}),
    trial(2, None, state="pruned", params={"C": 0.1, "kernel": "rbf"}, curve={"0": 0.2}),
    trial(3, 0.80, params={"C": 3.0, "kernel": "rbf"}),
    trial(4, None, state="failed", params={"C": 5.0}),
]


def history(trials, metric="accuracy", direction="maximize"):
    return charts.optimization_history(charts.History.of(trials), metric, direction)


def test_history_draws_every_complete_trial_and_the_running_best():
    points, best = history(TRIALS).data
    assert list(points.x) == [0, 1, 3] and list(points.y) == [0.70, 0.90, 0.80]
    assert list(best.y) == [0.70, 0.90, 0.90]
    low = history(TRIALS, "rmse", "minimize")
    assert list(low.data[1].y) == [0.70, 0.70, 0.70]


def test_history_skips_non_finite_values_and_has_nothing_without_trials():
    fig = history([*TRIALS, trial(5, math.nan)])
    assert 5 not in list(fig.data[0].x)
    assert history([]) is None
    assert history([TRIALS[2]]) is None


def test_a_binned_history_draws_each_bins_range_and_says_so():
    binned = charts.History(x=[0, 100], low=[0.1, 0.3], high=[0.5, 0.4], count=200, bin_size=100)
    fig = charts.optimization_history(binned, "accuracy", "maximize")
    low, high, best = fig.data
    assert list(low.y) == [0.1, 0.3] and list(high.y) == [0.5, 0.4] and high.fill == "tonexty"
    assert list(best.y) == [0.5, 0.5]
    assert "200 complete trials in bins of 100" in fig.layout.title.text
    minimized = charts.optimization_history(binned, "rmse", "minimize")
    assert list(minimized.data[2].y) == [0.1, 0.1]


def test_parallel_coordinates_turn_categories_into_labelled_axes():
    fig = charts.parallel_coordinates(TRIALS, "accuracy")
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert list(dims) == ["C", "kernel", "accuracy"]
    assert list(dims["C"].values) == [1.0, 10.0, 3.0]
    assert list(dims["kernel"].ticktext) == ["linear", "rbf"]
    assert list(dims["kernel"].values) == [1, 0, 1]
    assert list(fig.data[0].line.color) == [0.70, 0.90, 0.80]


# A model: auto study with two families, each trial with its own family's parameters.
TWO_FAMILIES = [
    trial(0, 0.60, params={"model": "svm", "svm.C": 0.1, "svm.kernel": "rbf"}),
    trial(1, 0.70, params={"model": "knn", "knn.n_neighbors": 3}),
    trial(2, 0.90, params={"model": "svm", "svm.C": 10.0, "svm.kernel": "linear"}),
    trial(3, 0.80, params={"model": "knn", "knn.n_neighbors": 9}),
    trial(4, 0.75, params={"model": "svm", "svm.C": 1.0, "svm.kernel": "rbf"}),
    trial(5, None, state="pruned", params={"model": "svm", "svm.C": 5.0, "svm.kernel": "rbf"}),
]


def test_parallel_coordinates_draw_only_the_picked_axes_in_order():
    fig = charts.parallel_coordinates(TWO_FAMILIES, "accuracy", ["svm.kernel", "svm.C"])
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["svm.kernel", "svm.C", "accuracy"]
    # A knn trial has no svm.C: its line has a gap there, not a made-up value.
    assert math.isnan(dims[1].values[1]) and list(dims[1].values)[::2] == [0.1, 10.0, 1.0]
    assert fig.data[0].line.colorbar.title.text == "accuracy"
    assert charts.parallel_coordinates(TWO_FAMILIES, "accuracy", ["nothing"]) is None


def test_a_contour_interpolates_between_the_trials_that_have_both_parameters():
    fig = charts.contour(TWO_FAMILIES, "accuracy", "svm.C", "svm.kernel")
    surface, dots = fig.data
    assert surface.type == "contour" and surface.connectgaps
    assert list(surface.z) == [0.60, 0.90, 0.75]  # the svm trials; pruned and knn left out
    assert list(dots.x) == [0.1, 10.0, 1.0] and list(dots.y) == [1, 0, 1]
    assert list(fig.layout.yaxis.ticktext) == ["linear", "rbf"]
    assert fig.layout.xaxis.type == "log"  # 0.1 to 10: as a log search space spreads it
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("svm.C", "svm.kernel")
    assert surface.colorbar.title.text == "accuracy"
    assert charts.contour(TWO_FAMILIES, "accuracy", "svm.C", "knn.n_neighbors") is None
    assert charts.contour(TWO_FAMILIES, "accuracy", "svm.C", "svm.C") is None


def test_a_slice_draws_each_parameter_against_the_objective():
    fig = charts.slices(TWO_FAMILIES, "accuracy", ["svm.C", "knn.n_neighbors", "missing"])
    svm, knn = fig.data
    assert list(svm.x) == [0.1, 10.0, 1.0] and list(svm.y) == [0.60, 0.90, 0.75]
    assert list(knn.x) == [3, 9] and list(knn.marker.color) == [1, 3]  # coloured by number
    assert fig.layout.xaxis.title.text == "svm.C" and fig.layout.xaxis2.title.text == (
        "knn.n_neighbors"
    )
    assert fig.layout.yaxis.title.text == "accuracy"
    assert charts.slices(TWO_FAMILIES, "accuracy", ["missing"]) is None


def test_the_edf_gives_each_family_the_share_of_trials_at_or_below_each_value():
    fig = charts.edf({"svm": [0.9, 0.6, 0.75], "knn": [0.7, 0.8, math.nan]}, "accuracy")
    svm, knn = fig.data
    assert list(svm.x) == [0.6, 0.75, 0.9] and list(svm.y) == pytest.approx(
        [100 / 3, 200 / 3, 100]
    )
    assert list(knn.y) == [50, 100] and knn.name == "knn (2 trials)"
    assert fig.layout.xaxis.title.text == "accuracy"
    assert fig.layout.yaxis.title.text == "trials with accuracy ≤ x (%)"
    # Many trials: a line through evenly spaced ranks, exact at each, ending at 100 %.
    many = charts.edf({"all": [i / 1000 for i in range(1001)]}, "accuracy", max_points=100)
    assert len(many.data[0].x) <= 101 and many.data[0].y[-1] == 100
    assert many.data[0].y[0] == pytest.approx(100 * 11 / 1001)
    assert charts.edf({"svm": []}, "accuracy") is None


def test_importances_put_the_most_important_on_top():
    fig = charts.importances({"C": 0.2, "kernel": 0.8, "bad": math.inf})
    assert list(fig.data[0].y) == ["C", "kernel"]  # plotly draws the last bar on top
    assert charts.importances({}) is None


def test_intermediate_values_show_pruned_trials_in_their_own_style():
    fig = charts.intermediate_values(TRIALS, "accuracy")
    kept, pruned = fig.data
    assert (kept.name, pruned.name) == ("kept", "pruned")
    assert pruned.line.dash == "dot" and pruned.line.color == charts.PRUNED_COLOUR
    assert list(pruned.x) == [0, None] and list(pruned.y) == [0.2, None]
    # Each curve ends with a gap, so two trials' curves are never joined.
    assert list(kept.x) == [0, 1, None, 0, 1, None]
    assert kept.text[0] == "trial 0 (complete)" and kept.text[3] == "trial 1 (complete)"
    assert charts.intermediate_values([TRIALS[3]], "accuracy") is None


def test_pareto_front_highlights_the_front():
    trials = [trial(0, [0.9, 100.0]), trial(1, [0.8, 10.0]), trial(2, [0.7, 50.0])]
    front = [{"number": 0}, {"number": 1}]
    fig = charts.pareto_front(trials, ["accuracy", "n_params"], front)
    traces = {t.name: t for t in fig.data}
    assert list(traces["Pareto front"].x) == [0.8, 0.9]
    assert list(traces["other trials"].y) == [50.0]
    assert charts.pareto_front(trials, ["accuracy"], front) is None


def test_alpha_heatmap_has_a_frame_per_epoch_and_shows_the_last():
    history = [
        {"epoch": 0, "normal": [[0.5, 0.5], [0.5, 0.5]]},
        {"epoch": 1, "normal": [[0.9, 0.1], [0.2, 0.8]]},
    ]
    axes = {"ops": ["skip_connect", "sep_conv_3x3"], "edges": ["0->2", "1->2"]}
    fig = charts.alpha_heatmap(history, axes)
    assert len(fig.frames) == 2 and [f.name for f in fig.frames] == ["0", "1"]
    assert [list(row) for row in fig.data[0].z] == [[0.9, 0.1], [0.2, 0.8]]
    assert list(fig.data[0].y) == ["0->2", "1->2"]
    assert len(fig.layout.sliders[0].steps) == 2
    assert charts.alpha_heatmap(history, axes, "reduce") is None


def test_genotype_graph_draws_cells_and_layer_chains():
    cell = {
        "space": "cell",
        "normal": [
            [["sep_conv_3x3", 0], ["skip_connect", 1]],
            [["max_pool_3x3", 2], ["sep_conv_3x3", 0]],
        ],
        "reduce": [],
    }
    fig = charts.genotype_graph(cell)
    labels = [a.text for a in fig.layout.annotations]
    assert sorted(labels) == ["max_pool_3x3", "sep_conv_3x3", "sep_conv_3x3", "skip_connect"]
    nodes = fig.data[-1]
    assert list(nodes.text) == ["c_{k-2}", "c_{k-1}", "0", "1", "normal out"]
    mlp = charts.genotype_graph({"space": "mlp", "layers": [{"width": 64, "activation": "relu"}]})
    assert list(mlp.data[-1].text) == ["input", "64 relu", "output"]
    assert charts.genotype_graph({}) is None


@pytest.mark.django_db
def test_every_page_draws_its_charts_in_the_site_template(alice_browser, alice, iris, staff):
    """A job's, a data set's and the monitoring's figures share one template and colours."""
    import json
    import re

    from automl.charts import COLOURS
    from tests.support.api import browser_for
    from tests.support.factories import add_trials, make_job

    job = make_job(alice, iris, status="succeeded")
    add_trials(job)
    pages = [
        alice_browser.get(f"/jobs/{job.id}/trials/0/drawer/").content.decode(),
        alice_browser.get(f"/datasets/{iris.id}/").content.decode(),
        browser_for(staff).get("/monitoring/").content.decode(),
    ]
    for page in pages:
        figures = re.findall(r'data-figure="([^"]*)"', page)
        assert figures
        for figure in figures:
            layout = json.loads(figure.replace("&quot;", '"').replace("&amp;", "&"))["layout"]
            assert layout["template"]["layout"]["colorway"] == COLOURS
    for live in (
        browser_for(staff).get("/monitoring/data.json").json(),
        alice_browser.get(f"/jobs/{job.id}/charts/").json(),
    ):
        figures = [f for f in live["figures"].values() if f is not None]
        assert figures
        assert all(f["layout"]["template"]["layout"]["colorway"] == COLOURS for f in figures)
