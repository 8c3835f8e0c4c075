"""HPO jobs run in this process on the test database, their models evaluated by calling
the worker's task directly (real workers: test_evaluation_e2e.py)."""

import pytest

from automl.evaluation import services
from automl.evaluation.models import Evaluation
from automl.evaluation.tasks import evaluate_model
from automl.jobs.models import Job
from tests.support.factories import queued_hpo_job, run_here


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    monkeypatch.setattr(services, "N_RESAMPLES", 200)


def run_hpo(owner, dataset, *, name="iris model", **config) -> Job:
    job = run_here(queued_hpo_job(owner, dataset, name=name, **{"n_trials": 2, **config}))
    assert job.status == "succeeded", job.error_message
    return job


def evaluated(job: Job):
    """The job's version after the worker ran the evaluation its registration queued."""
    from automl.registry.models import ModelVersion

    version = ModelVersion.objects.get(id=job.result["refit"]["model_version"])
    evaluation = Evaluation.objects.get(version=version)
    assert evaluation.status == "queued"
    assert evaluate_model(evaluation.id) == "succeeded"
    assert evaluate_model(evaluation.id) == "not queued"  # a second delivery: no work
    evaluation.refresh_from_db()
    return version, evaluation
