import dataclasses
import threading
import time

from automl.jobs import worker
from automl.jobs.worker import gpus_for_child, gpus_per_child, placement_problem
from workers.training.stopping import Watchdog


def test_pool_children_take_their_own_slice_of_the_declared_gpus():
    four = ["0", "1", "2", "3"]
    assert [gpus_for_child(i, 2, four) for i in range(2)] == [["0", "1"], ["2", "3"]]
    assert gpus_for_child(0, 1, four) == four  # one child: every GPU for its job
    assert [gpus_for_child(i, 3, four) for i in range(3)] == [["0"], ["1"], ["2"]]
    # Fewer GPUs than children: one each, in turn.
    assert [gpus_for_child(i, 4, ["0", "1"]) for i in range(4)] == [["0"], ["1"], ["0"], ["1"]]
    assert gpus_for_child(3, 2, []) == []
    assert gpus_per_child(2, four) == 2 and gpus_per_child(1, []) == 0
    assert worker.declared_gpus(" 0, 1 ,") == ["0", "1"]


def test_a_child_refuses_a_job_asking_more_gpus_than_it_holds(monkeypatch):
    monkeypatch.setattr(worker, "_child_gpus", ["0", "1"])
    assert placement_problem({"device": "auto", "gpus": 0}, "w1@host") is None
    assert placement_problem({"gpus": 2}, "w1@host") is None
    problem = placement_problem({"gpus": 4}, "w1@host")
    assert problem.startswith("needs 4 GPUs, worker w1@host gives each job 2 GPUs")
    monkeypatch.setattr(worker, "_child_gpus", [])
    assert "gives each job no GPU" in placement_problem({"gpus": 1}, "w1@host")


def test_a_worker_that_declares_no_gpus_counts_the_ones_it_sees(monkeypatch):
    import torch

    monkeypatch.setattr(worker, "_child_gpus", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "needs 1 GPU, worker w2@host gives each job no GPU" in placement_problem(
        {"gpus": 1}, "w2@host"
    )


def test_only_a_pool_child_ends_its_process_for_a_stuck_trial(monkeypatch):
    assert worker.trial_hard_stop() is None  # this test process: nothing may end it
    monkeypatch.setattr(worker, "_pool_child", True)
    hard = worker.trial_hard_stop()
    assert hard is not None and hard.grace_s == 10  # TRIAL_STOP_GRACE_S
    # Its watchdog thread closes the connection of its own thread as it ends, not this one's.
    errors = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    with Watchdog(dataclasses.replace(hard, poll_s=0.01)):
        time.sleep(0.05)
    assert errors == []
