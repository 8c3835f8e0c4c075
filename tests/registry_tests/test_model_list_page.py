"""The models list sorts on the server by any column, both ways, shows the metric columns
the user picks in compact numbers and filters by stage; the model page is in tabs."""

import re

import pytest

from automl.registry.pages import compact
from tests.support.api import browser_for
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(alice, tmp_path, model_store):
    """Three versions whose metrics order them differently from their names."""
    made = []
    for name, accuracy, n_params in (
        ("beta", 0.91234, 12345),
        ("alpha", 0.5, 999.6),
        ("gamma", 0.75, 7),
    ):
        made.append(
            register(
                alice,
                forest_dir(tmp_path / name),
                name=name,
                metrics={"accuracy": accuracy, "n_params": n_params, "log_loss": 0.3},
            )
        )
    return made


def names_in_order(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<a href="/models/\d+/">([a-z]+)</a>', body)


def test_compact_numbers():
    assert [compact(v) for v in (12345, 0.91234, 999.6, 2.5e6, -1500, 3, None, True)] == [
        "12.3k",
        "0.912",
        "1k",
        "2.5M",
        "-1.5k",
        "3",
        "-",
        "-",
    ]


def test_sorting_by_a_column_and_a_metric_both_ways(alice, three):
    client = browser_for(alice)
    assert names_in_order(client.get("/models/?sort=name").content.decode()) == [
        "alpha",
        "beta",
        "gamma",
    ]
    assert names_in_order(client.get("/models/?sort=-name").content.decode()) == [
        "gamma",
        "beta",
        "alpha",
    ]
    page = client.get("/models/?sort=metric:accuracy&metric=accuracy").content.decode()
    assert names_in_order(page) == ["alpha", "gamma", "beta"]
    # The sorted column says so and its link sorts the other way, keeping the columns.
    assert (
        'aria-sort="ascending"><a class="sort" '
        'href="?stage=&amp;search=&amp;metric=accuracy&amp;sort=-metric%3Aaccuracy"' in page
    )
    page = client.get("/models/?sort=-metric:n_params&metric=n_params").content.decode()
    assert names_in_order(page) == ["beta", "alpha", "gamma"]
    # Unknown sorts fall back to the newest first rather than failing.
    assert client.get("/models/?sort=colour").status_code == 200


def test_chosen_metric_columns_in_compact_numbers_and_stage_filter(alice, three):
    from automl.registry.services import set_stage

    client = browser_for(alice)
    page = client.get("/models/?metric=n_params&sort=name").content.decode()
    head = page.split("<thead>")[1].split("</thead>")[0]
    assert ">n_params</a>" in head and ">accuracy</a>" not in head
    cells = re.findall(r'<td class="number">([^<]*)</td>', page)
    assert cells == ["1k", "12.3k", "7"]
    page = client.get("/models/?sort=name").content.decode()  # default: the commonest three
    assert len(re.findall(r'<td class="number">', page)) == 9 and "0.912" in page
    set_stage(three[2], "staging", alice)
    assert names_in_order(client.get("/models/?stage=staging").content.decode()) == ["gamma"]


def test_the_model_page_is_in_tabs(alice, three):
    page = browser_for(alice).get(f"/models/{three[0].id}/").content.decode()
    for panel in ("overview", "evaluation-panel", "lineage", "files"):
        assert f'<section id="{panel}" role="tabpanel"' in page
        assert f'aria-controls="{panel}"' in page
    assert 'title="0.91234">0.912</td>' in page  # compact, the full value on hover
    files = page.split('<section id="files"')[1].split("</section>")[0]
    assert "Download zip" in files


def test_the_deployments_list_sorts_both_ways(alice, three):
    from automl.serving.traffic import create_deployment

    for name, version in (("zeta", three[1]), ("alpha", three[2]), ("mid", three[0])):
        create_deployment(
            alice,
            name=name,
            model_name=version.name,
            routes=[{"version": version.id, "weight": 1}],
        )
    client = browser_for(alice)

    def listed(query: str) -> list[str]:
        page = client.get(f"/deployments/{query}").content.decode()
        body = page.split("<tbody>")[1].split("</tbody>")[0]
        return re.findall(r'<a href="/deployments/\d+/">([a-z]+)</a>', body)

    assert listed("?sort=name") == ["alpha", "mid", "zeta"]
    assert listed("?sort=-name") == ["zeta", "mid", "alpha"]
    assert listed("?sort=model") == ["zeta", "mid", "alpha"]  # alpha, beta, gamma models
    assert listed("") == ["mid", "alpha", "zeta"]  # the latest changed first
    page = client.get("/deployments/?sort=name").content.decode()
    assert 'aria-sort="ascending"><a class="sort" href="?sort=-name">Name</a>' in page
