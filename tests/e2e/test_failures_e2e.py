"""Each failure class provoked on a real worker (Postgres, Redis, a Celery process), four
small jobs on one worker: a trial past its memory cap (resource.setrlimit), a diverging
learning rate, a trial time limit, and a target column with a class of one row. Each
gets its class, the retry its policy asks for, and a log; the worker's log lines name the
job and trial. (A killed worker: tests/faults_tests/test_worker_killed.py.)"""

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MLP = {"hidden_units": {"type": "fixed", "value": 8}, "epochs": {"type": "fixed", "value": 2}}


def test_each_failure_class_gets_its_class_and_retry(workers, api):
    workers.start("w1")
    submit = {
        # 2048 x 2048 float32 weights (16 MiB) are mapped anew, past a 16 MiB cap (the small
        # allocations around them fit): out of memory, then the retry with half the batch.
        "oom": {
            "model": "mlp",
            "n_trials": 1,
            "trial_memory_mb": 16,
            "retry": {"oom": {"attempts": 1}},
            "search_space": {
                **MLP,
                "hidden_units": {"type": "fixed", "value": 2048},
                "batch_size": {"type": "categorical", "choices": [64]},
            },
        },
        "numerical": {
            "model": "mlp",
            "n_trials": 1,
            "search_space": {**MLP, "lr": {"type": "fixed", "value": 1e35}},
        },
        "time_limit": {
            "model": "mlp",
            "n_trials": 1,
            "trial_timeout_s": 0.5,
            "search_space": {**MLP, "epochs": {"type": "fixed", "value": 1000}},
        },
    }
    jobs = {cls: api.submit("hpo", "iris", config) for cls, config in submit.items()}
    # One row of class "rare": no stratified test split can hold it.
    rows = "".join(
        f"{i},{'red' if i % 2 else 'blue'},{'rare' if i == 0 else 'common'}\n" for i in range(40)
    )
    bad = api.upload("bad-target.csv", "size,colour,label\n" + rows, target="label")
    jobs["data"] = api.submit("hpo", bad["id"], {"model": "random_forest", "n_trials": 1})

    finished = {cls: api.wait_finished(job["id"], timeout_s=300) for cls, job in jobs.items()}
    for cls, job in finished.items():
        assert job["status"] == "failed" and job["failure_class"] == cls, (cls, job)

    oom = api.all_trials(jobs["oom"]["id"])
    found = [(t["failure_class"], t["retry_of"]) for t in oom]
    assert found == [("oom", None), ("oom", 0)], [t["error"] for t in oom]
    assert oom[1]["retry_change"] == {"batch_size": [64, 32]}
    numerical = api.all_trials(jobs["numerical"]["id"])
    assert [(t["failure_class"], t["retry_of"]) for t in numerical] == [
        ("numerical", None),
        ("numerical", 0),
    ]
    assert numerical[1]["params"]["lr"] == pytest.approx(1e34)
    timed_out = api.all_trials(jobs["time_limit"]["id"])
    assert [(t["failure_class"], t["retry_of"]) for t in timed_out] == [("time_limit", None)]
    assert "trial_timeout_s=0.5 exceeded" in timed_out[0]["error"]
    assert "least populated class" in finished["data"]["error_message"]
    assert api.get(f"/api/v1/jobs/{jobs['numerical']['id']}/")["failure_counts"] == {
        "numerical": 2
    }

    log = api.get(f"/api/v1/jobs/{jobs['numerical']['id']}/trials/0/log/")["log"]
    assert "NumericalError: the training loss is nan" in log
    assert f"job {jobs['numerical']['id']} trial 0 failed (numerical)" in workers.log("w1")
