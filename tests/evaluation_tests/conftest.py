"""HPO jobs run in this process on the test database, their models evaluated by calling
the worker's task directly (real workers: test_evaluation_e2e.py)."""

from uuid import uuid4

import pytest

from automl.evaluation import services
from automl.evaluation.models import Evaluation
from automl.evaluation.tasks import evaluate_model
from automl.jobs import tasks
from automl.jobs.models import Job
from workers.hpo.config import validate_hpo_config


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    monkeypatch.setattr(services, "N_RESAMPLES", 200)


def run_hpo(owner, dataset, **config) -> Job:
    job = Job.objects.create(
        owner=owner,
        kind="hpo",
        name=config.pop("name", "iris model"),
        dataset=dataset,
        study_name=f"test-{uuid4().hex}",
        config=validate_hpo_config({"n_trials": 2, **config}, dataset.task),
    )
    tasks.run_job(job.id)
    tasks.run_trials(job.id, 0)
    job.refresh_from_db()
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
