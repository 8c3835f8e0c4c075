"""workers.studies: the retrying storage and the budget protocol on one study."""

import optuna
import pytest
from optuna.exceptions import StorageInternalError
from optuna.trial import TrialState

from workers.studies.budget import DISCARDED, Budget, Step
from workers.studies.heartbeat import LOST, fail_stale
from workers.studies.storage import RetryingStorage, make_storage, trial_id


def failing_once(method):
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise StorageInternalError("server closed the connection unexpectedly")
        return method(*args, **kwargs)

    return flaky, calls


@pytest.fixture
def rdb(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    yield storage
    storage.engine.dispose()


def test_a_read_is_tried_once_more_after_a_dropped_connection(rdb):
    storage = RetryingStorage(rdb)
    optuna.create_study(storage=storage, study_name="job")
    rdb.get_study_id_from_name, calls = failing_once(rdb.get_study_id_from_name)
    assert storage.get_study_id_from_name("job") >= 0
    assert len(calls) == 2


def test_an_upsert_is_tried_once_more(rdb):
    storage = RetryingStorage(rdb)
    trial = optuna.create_study(storage=storage, study_name="job").ask()
    rdb.set_trial_system_attr, calls = failing_once(rdb.set_trial_system_attr)
    storage.set_trial_system_attr(trial_id(trial), "heartbeat", 1.0)
    assert len(calls) == 2
    assert storage.get_trial(trial_id(trial)).system_attrs["heartbeat"] == 1.0


def test_finishing_a_trial_is_not_tried_twice(rdb):
    storage = RetryingStorage(rdb)
    study = optuna.create_study(storage=storage, study_name="job")
    trial = study.ask()
    rdb.set_trial_state_values, calls = failing_once(rdb.set_trial_state_values)
    with pytest.raises(StorageInternalError):
        storage.set_trial_state_values(trial_id(trial), TrialState.COMPLETE, [1.0])
    assert len(calls) == 1


def test_optuna_runs_a_study_on_the_wrapper(rdb):
    study = optuna.create_study(storage=RetryingStorage(rdb), study_name="job")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert len(study.trials) == 3 and study.best_value is not None


def budget_of(size: int) -> Budget:
    storage = make_storage(None)
    study = optuna.create_study(storage=storage, study_name="job")
    return Budget(study, storage, size, lambda t: True, stale_after_s=60)


def test_a_trial_asked_past_the_budget_is_discarded_and_never_counted():
    budget = budget_of(2)
    first, second = budget.ask(), budget.ask()
    assert (first[1], second[1]) == (0, 1)
    assert budget.ask() is None, "a third place does not exist"
    trials, lost = budget.read()
    assert [t.number for t in trials] == [0, 1] and lost == []
    discarded = budget.study.trials[2]
    assert discarded.system_attrs[DISCARDED] and discarded.state == TrialState.FAIL


def test_a_full_budget_waits_while_trials_run_then_is_done():
    budget = budget_of(1)
    assert budget.next_step(budget.read()[0]) is Step.ASK
    trial, _ = budget.ask()
    assert budget.next_step(budget.read()[0]) is Step.WAIT
    budget.tell(trial, "complete", [0.5])
    assert budget.next_step(budget.read()[0]) is Step.DONE


def test_stop_ends_asking_and_a_sure_trial_is_not_read():
    budget = budget_of(5)
    assert budget.next_step([], stop=True) is Step.DONE
    trial, place = budget.ask(sure_below=5)
    assert place is None and budget.last_asked == trial.number == 0


def test_a_lost_trial_gives_its_place_back():
    budget = budget_of(1)
    trial, _ = budget.ask()
    budget.storage.set_trial_system_attr(trial_id(trial), "heartbeat", 0.0)
    trials, lost = budget.read()
    assert [t.number for t in lost] == [0] and trials[0].system_attrs["error"] == LOST
    assert budget.next_step(trials) is Step.ASK
    assert budget.ask()[1] == 0, "the replacement takes the lost trial's place"


def test_a_failed_trial_records_why():
    budget = budget_of(1)
    trial, _ = budget.ask()
    budget.tell(trial, "failed", error="ValueError: no")
    assert budget.study.trials[0].system_attrs["error"] == "ValueError: no"
    assert fail_stale(budget.storage, budget.study.trials, 0.0) == []
