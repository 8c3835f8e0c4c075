"""The job page's "Explore the search" in Chromium: parallel coordinates drawn under the
site's CSP for the best family's parameters, a family filter and a parameter picker that
redraw in place (no navigation), and the contour, slice and EDF charts."""

import pytest

from tests.browser.steps import SCREENSHOTS, sign_in
from tests.support.factories import auto_job_in_bulk

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MARK = "() => { window.sameDocument = true; }"
SAME = "() => window.sameDocument === true"
AXES = "#search-chart .parcoords .y-axis"


def shoot(page, name: str) -> None:
    """The section alone: the job page around it is long."""
    page.locator("#search-charts-section").screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def axis_labels(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelector('#search-chart .js-plotly-plot').data[0]"
        ".dimensions).map((d) => d.label)"
    )


def test_the_picker_and_the_family_filter_redraw_the_chart(
    chromium, live_server, django_user_model
):
    ana = django_user_model.objects.create_user("ana", password="ana-password-1")
    job = auto_job_in_bulk(ana, None, 400)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    sign_in(page, live_server.url, "ana", "ana-password-1")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    page.evaluate(MARK)

    # By default: the best trial's family, its first few parameters, drawn as parcoords.
    page.locator(AXES).first.wait_for()
    family = page.get_by_label("Family to draw")
    first = family.input_value()
    assert first and all(label.startswith(f"{first}.") for label in axis_labels(page)[:-1])
    shoot(page, "search-charts-default")

    # Another family: its own trials and parameters, the most important few ticked.
    family.select_option("svm")
    page.wait_for_function(
        "() => document.querySelector('#search-chart .js-plotly-plot').layout.title.text"
        " === 'Parallel coordinates (svm trials)'"
    )
    boxes = page.locator("#search-chart-params input[type=checkbox]")
    assert all(v.startswith("svm.") for v in boxes.evaluate_all("(b) => b.map((x) => x.value)"))
    labels = axis_labels(page)
    assert labels[-1] == "accuracy" and all(label.startswith("svm.") for label in labels[:-1])

    # The picker: untick a parameter, its axis goes.
    dropped = labels[0]
    page.get_by_label(dropped, exact=True).uncheck()
    page.wait_for_function(
        f"() => !document.querySelector('#search-chart .js-plotly-plot').data[0]"
        f".dimensions.some((d) => d.label === '{dropped}')"
    )
    assert page.locator(AXES).count() == len(labels) - 1
    shoot(page, "search-charts-svm-picked")

    # A contour of the first two ticked parameters, then the objective's distribution.
    page.locator("#search-chart-kind").select_option("contour")
    page.locator("#search-chart .contour").first.wait_for()
    shoot(page, "search-charts-contour")
    page.locator("#search-chart-kind").select_option("slice")
    page.locator("#search-chart .js-plotly-plot", has_text="Slice").wait_for()
    page.locator("#search-chart-kind").select_option("edf")
    page.locator("#search-chart .js-plotly-plot", has_text="Empirical distribution").wait_for()
    assert page.locator("#search-chart .scatterlayer .trace").count() == 8  # one per family
    shoot(page, "search-charts-edf")

    assert page.evaluate(SAME), "the page was reloaded"
    assert not problems, problems
