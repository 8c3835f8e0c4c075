"""The job page's trial explorer: every parameter column grouped by family, sorting and
filtering by the database across pages, the filter form, the parts a live page fetches
again (summary, table, charts), the trial drawer, and a history that drops no trial."""

import html

import pytest

from automl.jobs import explorer
from automl.jobs.models import Trial
from automl.jobs.pages import seconds_text
from tests.api_tests.test_trial_explorer import auto_job
from tests.support.factories import HPO_CONFIG, THREE_TRIALS
from tests.support.factories import make_job as make_any_job

pytestmark = pytest.mark.django_db


def make_job(owner, dataset, **fields):
    fields.setdefault("trials", THREE_TRIALS)
    return make_any_job(owner, dataset, **fields)


def test_every_familys_parameters_are_columns_grouped_by_family(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    # All 34 columns of the 8 families (there were 12), each family's under its name.
    for family in ("logistic_regression", "xgboost", "svm", "knn", "mlp"):
        assert 'scope="colgroup" colspan=' in page and f">{family}</th>" in page
    assert "ordering=params.mlp.batch_size" in page and "ordering=params.svm.gamma" in page
    only_knn = alice_browser.get(f"/jobs/{job.id}/?family=knn").content.decode()
    assert ">knn</th>" in only_knn and ">svm</th>" not in only_knn
    assert 'data-number="3"' in only_knn and 'data-number="0"' not in only_knn


def test_sorting_is_across_every_page_and_kept_by_the_page_links(alice_browser, alice, iris):
    job = make_job(alice, iris, trials=[("complete", v / 1000) for v in range(250)])
    page = alice_browser.get(f"/jobs/{job.id}/?ordering=-value").content.decode()
    assert 'data-number="249"' in page and 'data-number="0"' not in page  # best first
    assert 'href="?ordering=-value&amp;page=2"' in page and "page 1 of 3" in page
    assert 'aria-sort="descending"' in page
    last = alice_browser.get(f"/jobs/{job.id}/?ordering=-value&page=3").content.decode()
    assert 'data-number="0"' in last


def test_the_filter_forms_range_row_becomes_the_querys_own_keys(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    form = {"state": "complete", "filter_param": "svm.C", "filter_low": "1", "filter_high": ""}
    response = alice_browser.get(f"/jobs/{job.id}/", form)
    assert response.status_code == 302
    assert "min.svm.C=1" in response.url and "filter_" not in response.url
    page = alice_browser.get(response.url).content.decode()
    assert 'data-number="1"' in page and 'data-number="0"' not in page
    assert "1 ≤ svm.C" in page and "state complete" in page  # chips that remove a filter


def test_a_wrong_filter_says_so_and_shows_every_trial(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    response = alice_browser.get(f"/jobs/{job.id}/?min.svm.kernel=3&family=ridge")
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "svm.kernel is categorical" in page and "'ridge' is not one of" in page
    assert 'data-number="5"' in page


def test_the_live_parts_come_alone(alice_browser, alice, iris):
    job = make_job(alice, iris, status="running", progress=0.5)
    table = alice_browser.get(f"/jobs/{job.id}/?fragment=trials&state=pruned").content.decode()
    assert "<html" not in table and 'data-number="1"' in table and 'data-number="0"' not in table
    summary = alice_browser.get(f"/jobs/{job.id}/?fragment=summary").content.decode()
    assert "<html" not in summary and 'id="job-status"' in summary
    charts = alice_browser.get(f"/jobs/{job.id}/charts/").json()
    assert charts["figures"]["0"]["layout"]["title"]["text"] == "Optimization history"
    assert charts["figures"]["0"]["layout"]["template"]["layout"]["colorway"]


def test_the_status_has_the_time_taken_and_an_estimate_of_the_time_left(
    alice_browser, alice, iris
):
    from datetime import timedelta

    from django.utils import timezone

    started = timezone.now() - timedelta(seconds=100)
    job = make_job(alice, iris, status="running", progress=0.25, started_at=started)
    status = alice_browser.get(f"/jobs/{job.id}/status/").json()
    assert 99 < status["elapsed_s"] < 110 and 295 < status["left_s"] < 330
    assert status["left"].startswith("about 5 min")
    assert status["left_from"] == "progress"
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert "so far; about 5 min" in page and "left (from progress)" in page

    # A time budget that ends the job sooner than its trials would: what is left of it.
    budgeted = make_job(
        alice,
        iris,
        status="running",
        progress=0.25,
        started_at=started,
        config={**HPO_CONFIG, "time_budget_s": 160},
    )
    status = alice_browser.get(f"/jobs/{budgeted.id}/status/").json()
    assert 50 < status["left_s"] <= 60 and status["left_from"] == "time budget"
    page = alice_browser.get(f"/jobs/{budgeted.id}/").content.decode()
    assert "left (from time budget)" in page


def test_durations_read_in_their_unit():
    assert seconds_text(0.012) == "0.01 s" and seconds_text(42.14) == "42.1 s"
    assert seconds_text(185) == "3 min 05 s" and seconds_text(7620) == "2 h 07 min"


def test_the_drawer_shows_one_trial(alice_browser, alice, iris):
    job = make_job(alice, iris)
    Trial.objects.filter(job=job, number=2).update(
        worker="node-1:42", log="\n".join(f"line {i}" for i in range(100)), error="Boom"
    )
    drawer = alice_browser.get(f"/jobs/{job.id}/trials/2/drawer/").content.decode()
    assert "Trial 2" in drawer and "node-1:42" in drawer and "Boom" in drawer
    assert "line 99" in drawer and "line 10\n" not in drawer and "60 before them" in drawer
    assert 'data-value="0.9"' in drawer and "data-figure=" in drawer  # its learning curve
    assert alice_browser.get(f"/jobs/{job.id}/trials/9/drawer/").status_code == 404


def test_a_big_jobs_history_bins_every_trial_and_says_so(alice, iris, monkeypatch):
    monkeypatch.setattr(explorer, "HISTORY_POINTS", 50)
    monkeypatch.setattr(explorer, "HISTORY_BINS", 10)
    monkeypatch.setattr(explorer, "SAMPLE_BEST", 5)
    monkeypatch.setattr(explorer, "SAMPLE_LATEST", 5)
    job = make_job(alice, iris, trials=[("complete", (n % 7) / 10) for n in range(100)])
    sample = explorer.chart_sample(job)
    history = sample.history
    assert history.count == 100 and history.bin_size == 10 and len(history.x) == 10
    assert history.x[:3] == [0, 10, 20] and max(history.high) == 0.6 and min(history.low) == 0
    assert len(sample.trials) == 10 and "5 best and the 5 latest of 100" in sample.note
    assert {t["number"] for t in sample.trials} >= {95, 96, 97, 98, 99}
