"""The trials API's paging, sorting and filtering (automl.jobs.explorer), done by the
database: over every parameter of every family, with a 400 naming each wrong input."""

import pytest

from automl.jobs.models import Trial
from tests.support.factories import make_job
from workers.hpo.config import validate_hpo_config

pytestmark = pytest.mark.django_db


def auto_job(owner, dataset):
    """A model: auto job with trials of three families, as the engine names their params."""
    config = validate_hpo_config({"model": "auto"}, "classification").to_json()
    job = make_job(owner, dataset, config=config)
    svm, knn, mlp = "svm", "knn", "mlp"
    rows = [
        ("complete", 0.70, {"model": svm, "svm.C": 0.5, "svm.kernel": "rbf", "svm.gamma": 0.1}),
        ("complete", 0.90, {"model": svm, "svm.C": 20.0, "svm.kernel": "linear"}),
        ("pruned", None, {"model": knn, "knn.n_neighbors": 5, "knn.weights": "uniform"}),
        ("complete", 0.80, {"model": knn, "knn.n_neighbors": 12, "knn.p": 1}),
        ("failed", None, {"model": mlp, "mlp.hidden_units": 64, "mlp.batch_size": 32}),
        ("complete", 0.95, {"model": mlp, "mlp.hidden_units": 128, "mlp.batch_size": 16}),
    ]
    for number, (state, value, params) in enumerate(rows):
        Trial.objects.create(
            job=job,
            number=number,
            state=state,
            params=params,
            values=None if value is None else [value],
        )
    return job


def numbers(api, job, query=""):
    response = api.get(f"/api/v1/jobs/{job.id}/trials/?{query}")
    assert response.status_code == 200, response.json()
    return [t["number"] for t in response.json()["results"]]


def test_it_sorts_by_value_and_any_parameter_missing_ones_last(alice_api, alice, iris):
    job = auto_job(alice, iris)
    assert numbers(alice_api, job) == [0, 1, 2, 3, 4, 5]
    assert numbers(alice_api, job, "ordering=-value") == [5, 1, 3, 0, 2, 4]
    assert numbers(alice_api, job, "ordering=value") == [0, 3, 1, 5, 2, 4]
    assert numbers(alice_api, job, "ordering=-params.svm.C") == [1, 0, 2, 3, 4, 5]
    assert numbers(alice_api, job, "ordering=params.mlp.hidden_units")[:2] == [4, 5]
    assert numbers(alice_api, job, "ordering=-number")[0] == 5


def test_it_filters_by_state_family_range_and_choice(alice_api, alice, iris):
    job = auto_job(alice, iris)
    assert numbers(alice_api, job, "state=complete") == [0, 1, 3, 5]
    assert numbers(alice_api, job, "family=knn") == [2, 3]
    assert numbers(alice_api, job, "family=svm&min.svm.C=1") == [1]
    assert numbers(alice_api, job, "max.svm.C=1") == [0]
    assert numbers(alice_api, job, "min.knn.n_neighbors=5&max.knn.n_neighbors=5") == [2]
    assert numbers(alice_api, job, "is.svm.kernel=linear") == [1]
    assert numbers(alice_api, job, "is.knn.p=1") == [3]  # a number choice, from text
    assert numbers(alice_api, job, "is.mlp.batch_size=16&is.mlp.batch_size=32") == [4, 5]
    assert numbers(alice_api, job, "state=complete&ordering=-value&page_size=2") == [5, 1]


@pytest.mark.parametrize(
    "query, field",
    [
        ("state=done", "state"),
        ("family=ridge", "family"),
        ("ordering=params.nope", "ordering"),
        ("ordering=colour", "ordering"),
        ("min.nope=1", "min.nope"),
        ("min.svm.C=abc", "min.svm.C"),
        ("min.svm.C=nan", "min.svm.C"),
        ("min.svm.C=5&max.svm.C=1", "min.svm.C"),
        ("min.svm.kernel=1", "min.svm.kernel"),
        ("is.svm.kernel=poly", "is.svm.kernel"),
    ],
)
def test_a_wrong_query_is_a_400_naming_it(alice_api, alice, iris, query, field):
    job = auto_job(alice, iris)
    response = alice_api.get(f"/api/v1/jobs/{job.id}/trials/?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()


def test_another_users_trials_are_a_404(alice_api, bob, iris):
    job = auto_job(bob, iris)
    assert alice_api.get(f"/api/v1/jobs/{job.id}/trials/?ordering=-value").status_code == 404
