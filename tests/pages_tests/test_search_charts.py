"""The job page's search-space charts (automl/jobs/search_charts.py): a chart, a model
family and its parameters picked by query string, on the page and over the API, with the
family's most important parameters by default and every wrong pick a 400 naming it."""

import pytest

from automl.jobs.models import Job
from tests.api_tests.test_trial_explorer import auto_job
from tests.support.factories import THREE_TRIALS, make_job
from workers.hpo.config import validate_hpo_config

pytestmark = pytest.mark.django_db


def chart(client, job, query=""):
    response = client.get(f"/jobs/{job.id}/search-chart/?{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_default_is_the_best_familys_most_important_parameters(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    Job.objects.filter(id=job.id).update(
        result={"importances_by_family": {"mlp": {"mlp.batch_size": 0.7, "mlp.hidden_units": 0.3}}}
    )
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="search-charts"' in page and "js/search_charts.js" in page
    answer = chart(alice_browser, job)
    assert answer["chart"] == "parcoords" and answer["family"] == "mlp"  # the best trial's
    assert answer["params"][:2] == ["mlp.batch_size", "mlp.hidden_units"]
    assert len(answer["params"]) == 4 and all(p.startswith("mlp.") for p in answer["available"])
    assert {"svm", "knn", "mlp", "logistic_regression"} <= set(answer["families"])
    dims = [d["label"] for d in answer["figure"]["data"][0]["dimensions"]]
    assert dims[:2] == ["mlp.batch_size", "mlp.hidden_units"] and dims[-1] == "accuracy"
    assert answer["figure"]["layout"]["title"]["text"] == "Parallel coordinates (mlp trials)"


def test_a_family_filter_draws_only_its_trials_and_parameters(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    answer = chart(alice_browser, job, "family=svm&param=svm.kernel&param=svm.C")
    dims = answer["figure"]["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["svm.kernel", "svm.C", "accuracy"]
    assert dims[-1]["values"] == [0.70, 0.90]  # the two complete svm trials
    every = chart(alice_browser, job, "family=all")
    assert every["available"] == ["model"] and every["params"] == ["model"]
    labels = every["figure"]["data"][0]["dimensions"][0]["ticktext"]
    assert labels == ["knn", "mlp", "svm"]


def test_contour_slice_and_edf_are_drawn_for_the_pick(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    contour = chart(alice_browser, job, "chart=contour&family=svm&param=svm.C&param=svm.kernel")
    assert contour["figure"]["data"][0]["type"] == "contour"
    assert contour["figure"]["layout"]["xaxis"]["title"]["text"] == "svm.C"
    one = chart(alice_browser, job, "chart=contour&family=svm&param=svm.C")
    assert one["figure"] is None and one["note"] == "Pick two parameters for a contour."
    sliced = chart(alice_browser, job, "chart=slice&family=knn&param=knn.n_neighbors")
    assert sliced["figure"]["data"][0]["x"] == [12]  # the pruned knn trial has no value
    edf = chart(alice_browser, job, "chart=edf")
    assert [t["name"] for t in edf["figure"]["data"]] == [
        "knn (1 trials)",
        "mlp (1 trials)",
        "svm (2 trials)",
    ]


def test_a_job_with_one_family_has_no_family_picker(alice_browser, alice, iris):
    config = validate_hpo_config({"model": "svm"}, "classification").to_json()
    job = make_job(alice, iris, config=config, trials=THREE_TRIALS)  # trials with C alone
    answer = chart(alice_browser, job)
    assert answer["family"] == "" and answer["families"] == []
    assert sorted(answer["available"]) == ["C", "gamma", "kernel"]  # jsonb orders keys its way
    dims = answer["figure"]["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["C", "accuracy"] and dims[1]["values"] == [0.8, 0.9]
    response = alice_browser.get(f"/jobs/{job.id}/search-chart/?family=svm")
    assert response.status_code == 400 and "searched one family" in response.json()["detail"]


def test_a_wrong_pick_is_a_400_naming_each_problem(alice_browser, alice_api, alice, iris):
    job = auto_job(alice, iris)
    query = "chart=pie&family=tree&param=svm.C"
    for response in (
        alice_browser.get(f"/jobs/{job.id}/search-chart/?{query}"),
        alice_api.get(f"/api/v1/jobs/{job.id}/search-chart/?{query}"),
    ):
        assert response.status_code == 400
        assert set(response.json()["fields"]) == {"chart", "family", "param"}
    wrong = alice_api.get(f"/api/v1/jobs/{job.id}/search-chart/?family=svm&param=knn.p")
    assert wrong.json()["fields"]["param"] == ["knn.p: not a parameter of the svm family"]


def test_the_api_answers_what_the_page_draws(alice_api, alice, iris):
    job = auto_job(alice, iris)
    answer = alice_api.get(f"/api/v1/jobs/{job.id}/search-chart/?chart=slice&family=svm").json()
    assert answer["chart"] == "slice" and answer["figure"]["data"][0]["type"] == "scatter"


def test_excluded_trials_are_left_out(alice_browser, alice, iris):
    job = auto_job(alice, iris)
    job.trials.filter(number=1).update(excluded=True)
    answer = chart(alice_browser, job, "family=svm&param=svm.C")
    assert answer["figure"]["data"][0]["dimensions"][-1]["values"] == [0.70]
