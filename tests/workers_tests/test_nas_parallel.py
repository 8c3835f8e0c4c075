"""NAS across workers: the asynchronous evolution step, and runners sharing one study."""

import random
import threading
import time

import optuna
import pytest

from workers.data.builtin import load_builtin
from workers.nas import parallel
from workers.nas.config import validate_nas_config
from workers.nas.engine import NasError
from workers.nas.spaces import MacroSpace
from workers.nas.strategies import Candidate
from workers.nas.strategies.evolution import RegularizedEvolution
from workers.reporter import MemoryReporter

SPACE = {"name": "macro", "widths": [4, 8], "max_layers": 2}


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


def config(strategy, **extra):
    return validate_nas_config(
        {"strategy": strategy, "space": SPACE, "proxy": {"epochs": 1, "subset": 0.3}, **extra},
        "image",
    )


def study(name="job"):
    storage = optuna.storages.InMemoryStorage()
    parallel.create_study(storage, name)
    return storage


def distance(a, b):
    return sum(x != y for x, y in zip(a, b, strict=True))


# --- the asynchronous (steady-state) evolution step


def test_the_first_population_candidates_are_random():
    space = MacroSpace(MacroSpace.options(widths=[4, 8], max_layers=2))
    evo = RegularizedEvolution(RegularizedEvolution.options(population=3, sample_size=2), space, 0)
    finished = [Candidate(0, space.sample(random.Random(0)), {}, "complete", 0.9)]
    for position in range(3):  # the third place is proposed while two still train
        assert evo.propose(finished, position, random.Random(7)) == space.sample(random.Random(7))


def test_the_population_is_the_latest_finished_and_the_best_of_the_sample_is_mutated():
    space = MacroSpace(MacroSpace.options(widths=[4, 8, 16], max_layers=3))
    evo = RegularizedEvolution(RegularizedEvolution.options(population=3, sample_size=3), space, 0)
    members = [space.sample(random.Random(i)) for i in range(5)]
    # In the order they finished: the best (0.99) finished first and has aged out.
    finished = [
        Candidate(n, c, {}, "complete", s)
        for n, (c, s) in enumerate(zip(members, [0.99, 0.1, 0.2, 0.5, 0.3], strict=True))
    ]
    for seed in range(20):
        child = evo.propose(finished, 5, random.Random(seed))
        assert distance(child, members[3]) == 1, "one mutation of the best living member"


def test_a_tournament_samples_sample_size_members_of_the_population():
    space = MacroSpace(MacroSpace.options(widths=[4, 8, 16], max_layers=3))
    evo = RegularizedEvolution(RegularizedEvolution.options(population=4, sample_size=1), space, 0)
    members = [space.sample(random.Random(i)) for i in range(4)]
    finished = [Candidate(n, c, {}, "complete", n / 10) for n, c in enumerate(members)]
    parents = set()
    for seed in range(40):
        child = evo.propose(finished, 4, random.Random(seed))
        parents.add(next(n for n, m in enumerate(members) if distance(child, m) == 1))
    assert len(parents) > 1, "a sample of one is not always the best member"


# --- runners on one shared study


def test_two_runners_complete_exactly_the_budget_between_them(digits, tmp_path):
    cfg = config({"name": "evolution", "population": 3, "sample_size": 2, "cycles": 3})
    storage = study()
    reporter = MemoryReporter()
    errors = []

    def runner(name):
        try:
            parallel.run_candidates(
                cfg, digits, reporter, storage, "job", worker=name, device="cpu"
            )
        except Exception as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    complete = [t for t in reporter.finished if t["state"] == "complete"]
    assert sorted(t["number"] for t in complete) == list(range(6)), "none twice, none lost"
    assert all("genotype" in t["params"] and t["params"]["cost"] for t in complete)
    outcome, seconds = parallel.summarize(storage, "job")
    assert outcome.n_complete == 6 and seconds > 0
    assert outcome.score == max(t["values"][0] for t in complete)
    assert (
        outcome.genotype
        == complete[[t["number"] for t in complete].index(outcome.number)]["params"]["genotype"]
    )
    assert set(outcome.notes["workers"]) <= {"w0", "w1"} and outcome.notes["workers"]

    result = parallel.close(
        cfg, digits, reporter, storage, "job", directory=tmp_path, device="cpu"
    )
    assert result["best"] == {"number": outcome.number, "score": outcome.score}
    assert result["n_complete"] == 6 and not result["stopped"] and not result["timed_out"]
    assert result["retrain"]["files"] and result["retrain"]["test_metrics"]["accuracy"] > 0.2
    assert reporter.progress_values[-1] == 1.0


def test_a_candidate_whose_worker_died_is_failed_and_not_counted(digits):
    cfg = config({"name": "random", "candidates": 2})
    storage = study()
    dead = optuna.load_study(study_name="job", storage=storage).ask()  # never beats
    time.sleep(0.3)
    reporter = MemoryReporter()

    parallel.run_candidates(cfg, digits, reporter, storage, "job", device="cpu", stale_after_s=0.2)

    lost = [t for t in reporter.finished if t["number"] == dead.number]
    assert len(lost) == 1 and lost[0]["state"] == "failed" and "lost" in lost[0]["error"]
    assert [t["number"] for t in reporter.finished if t["state"] == "complete"] == [1, 2]
    outcome, _ = parallel.summarize(storage, "job")
    assert (outcome.n_complete, outcome.n_failed) == (2, 1)


def test_rejected_candidates_do_not_count(digits):
    cfg = config({"name": "random", "candidates": 3}, constraints={"max_params": 1500})
    storage = study()
    reporter = MemoryReporter()
    parallel.run_candidates(cfg, digits, reporter, storage, "job", device="cpu")
    states = [t["state"] for t in reporter.finished]
    assert states.count("complete") == 3 and "pruned" in states
    assert parallel.summarize(storage, "job")[0].n_rejected == states.count("pruned")


def test_the_time_limit_counts_from_the_first_runner(digits):
    cfg = config({"name": "random", "candidates": 50}, timeout_s=5)
    storage = study()
    study_id = storage.get_study_id_from_name("job")
    storage.set_study_system_attr(study_id, parallel.STARTED, time.time() - 10)
    reporter = MemoryReporter()
    assert parallel.run_candidates(cfg, digits, reporter, storage, "job", device="cpu") is False
    assert reporter.finished == []
    with pytest.raises(NasError, match="no candidate"):  # nothing to retrain
        parallel.close(cfg, digits, reporter, storage, "job", device="cpu")


def test_a_paused_interval_does_not_count_against_the_time_limit(digits, monkeypatch):
    from workers.studies import clock

    now = [1000.0]
    monkeypatch.setattr(clock.time, "time", lambda: now[0])
    storage = study()  # its clock starts at 1000
    study_id = storage.get_study_id_from_name("job")
    cfg = config({"name": "random", "candidates": 3}, timeout_s=60)
    now[0] += 40  # ran 40 s, then paused for an hour
    parallel.stop_clock(storage, "job")
    now[0] += 3600
    assert parallel._deadline(cfg, storage, study_id) == now[0] + 20  # read while paused
    parallel.create_study(storage, "job")  # resumed: the clock runs on from 40 s
    assert parallel._deadline(cfg, storage, study_id) == now[0] + 20
    parallel.create_study(storage, "job")  # another runner of the same run: no change
    now[0] += 5
    assert parallel._deadline(cfg, storage, study_id) == now[0] + 15


def test_a_cancelled_runner_stops_between_candidates(digits):
    cfg = config({"name": "random", "candidates": 5})
    reporter = MemoryReporter(stop_after=1)
    assert parallel.run_candidates(cfg, digits, reporter, study(), "job", device="cpu")
    assert len(reporter.finished) == 1


@pytest.mark.parametrize("name", ["rl", "darts"])
def test_strategies_that_learn_from_every_result_in_order_run_on_one_worker(name):
    cfg = validate_nas_config(
        {"strategy": name, "space": "cell" if name == "darts" else SPACE}, "image"
    )
    from workers.nas.spaces import make_space

    with pytest.raises(NasError, match="one worker"):
        parallel.strategy_for(cfg, make_space(cfg))
