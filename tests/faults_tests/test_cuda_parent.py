"""CUDA is never initialised in a worker's parent process: a forked child of a process
that touched CUDA cannot use it. Checked from outside, on the libraries each process has
mapped: the parent never loads torch at all, the child that ran a torch job does."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def loads_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_worker_parent_never_imports_torch(workers, api):
    parent = workers.start("w1", "-B").pid  # -B: the scheduler runs in the parent too
    config = {
        "model": "mlp",
        "n_trials": 1,
        "search_space": {"epochs": {"type": "fixed", "value": 2}},
    }
    job = api.submit("hpo", "iris", config)
    assert api.wait_finished(job["id"], timeout_s=240)["status"] == "succeeded"

    assert any(loads_torch(child) for child in children(parent)), "the child ran torch"
    assert not loads_torch(parent)
