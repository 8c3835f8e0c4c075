"""Evaluations and data set profiles are reconciled like jobs: a lost message is sent
again, a lost worker's run fails saying so; asking twice for an evaluation joins it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automl.datasets import services as dataset_services
from automl.datasets import tasks as dataset_tasks
from automl.datasets.models import Dataset
from automl.evaluation import services, tasks
from automl.evaluation.models import Evaluation
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The ids sent to the evaluation and profiling tasks, instead of the broker."""
    ids = {"evaluate": [], "profile": []}
    for task, key in (
        (tasks.evaluate_model, "evaluate"),
        (dataset_tasks.profile_dataset, "profile"),
    ):
        monkeypatch.setattr(task, "apply_async", lambda args, k=key, **kw: ids[k].append(args[0]))
        monkeypatch.setattr(
            task, "apply_async_on_commit", lambda args, k=key, **kw: ids[k].append(args[0])
        )
    return ids


def _ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def test_a_repeated_request_joins_the_queued_or_running_evaluation(
    alice, tmp_path, model_store, sent, monkeypatch
):
    monkeypatch.setattr(services, "rows_job", lambda version: None)
    version = register(alice, forest_dir(tmp_path / "m"), name="iris")
    first = services.request_evaluation(version)
    assert services.request_evaluation(version).id == first.id
    assert sent["evaluate"] == [first.id]  # one message, not two
    Evaluation.objects.filter(id=first.id).update(status="running", started_at=timezone.now())
    assert services.request_evaluation(version).status == "running"
    assert sent["evaluate"] == [first.id]
    Evaluation.objects.filter(id=first.id).update(status="succeeded")
    assert services.request_evaluation(version).status == "queued"  # finished: recomputed
    assert sent["evaluate"] == [first.id, first.id]


def test_lost_evaluations_are_sent_again_or_failed_with_a_reason(
    alice, tmp_path, model_store, sent
):
    lost, fresh, dead, live = (
        Evaluation.objects.create(version=register(alice, forest_dir(tmp_path / n), name=n))
        for n in ("a", "b", "c", "d")
    )
    Evaluation.objects.filter(id=lost.id).update(created_at=_ago(minutes=5))
    Evaluation.objects.filter(id=dead.id).update(status="running", started_at=_ago(hours=2))
    Evaluation.objects.filter(id=live.id).update(status="running", started_at=_ago(minutes=1))
    assert services.reconcile_evaluations(120, 3600) == {
        "evaluations_requeued": 1,
        "evaluations_failed": 1,
    }
    assert sent["evaluate"] == [lost.id]
    dead.refresh_from_db()
    assert dead.status == "failed" and "EVALUATION_MAX_RUNNING_S (3600 s)" in dead.error
    assert Evaluation.objects.get(id=live.id).status == "running"
    assert Evaluation.objects.get(id=fresh.id).status == "queued"


def test_pending_profiles_are_sent_again_then_given_up(alice, sent):
    def pending(**age):
        dataset = Dataset.objects.create(
            owner=alice,
            name="d",
            source="upload",
            task="classification",
            target_name="y",
            n_rows=1,
            n_features=1,
        )
        Dataset.objects.filter(id=dataset.id).update(created_at=_ago(**age))
        return dataset

    fresh, lost, hopeless = pending(seconds=1), pending(minutes=5), pending(hours=2)
    assert dataset_services.reconcile_profiles(120, 3600) == {
        "profiles_requeued": 1,
        "profiles_failed": 1,
    }
    assert sent["profile"] == [lost.id]
    hopeless.refresh_from_db()
    assert hopeless.profile_status == "failed"
    assert "PROFILE_MAX_PENDING_S (3600 s)" in hopeless.profile_error
    assert Dataset.objects.get(id=fresh.id).profile_status == "pending"
