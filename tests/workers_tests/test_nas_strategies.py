"""One contract every NAS strategy must pass, run over the registry; then each one's own."""

import random

import numpy as np
import pytest
import torch

from workers.data.builtin import load_builtin
from workers.nas.config import validate_nas_config
from workers.nas.engine import NasContext, candidate_from_trial, prepare, resolve_device
from workers.nas.spaces import MacroSpace
from workers.nas.strategies import STRATEGIES, Candidate, SamplingStrategy
from workers.nas.strategies.evolution import RegularizedEvolution
from workers.nas.strategies.rl import ReinforceSearch
from workers.reporter import MemoryReporter

TINY = {
    "darts": (
        {"name": "darts", "epochs": 2, "batch_size": 128},
        {"name": "cell", "cells": 2, "nodes": 2, "channels": 4},
    ),
    "evolution": (
        {"name": "evolution", "population": 3, "sample_size": 2, "cycles": 2},
        {"name": "macro", "widths": [4, 8], "max_layers": 2},
    ),
    "rl": ({"name": "rl", "candidates": 4}, {"name": "macro", "widths": [4, 8], "max_layers": 2}),
    "random": (
        {"name": "random", "candidates": 4},
        {"name": "macro", "widths": [4, 8], "max_layers": 2},
    ),
}


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


def context(digits, name, reporter, history=(), **extra):
    strategy, space = TINY[name]
    config = validate_nas_config(
        {"strategy": strategy, "space": space, "proxy": {"epochs": 1, "subset": 0.3}, **extra},
        "image",
    )
    ctx = NasContext(
        config, prepare(config, digits), reporter, resolve_device("cpu"), list(history)
    )
    return config, ctx, STRATEGIES[name](config.strategy.options, ctx.space, config.seed)


def test_every_strategy_is_tested():
    assert set(STRATEGIES) == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_contract(digits, name):
    reporter = MemoryReporter()
    config, ctx, strategy = context(digits, name, reporter)
    outcome = strategy.search(ctx)

    # Every candidate is a finished trial, numbered 0..n-1, with its genotype and a score.
    numbers = [t["number"] for t in reporter.finished]
    assert numbers == list(range(len(numbers))) and numbers
    assert all(t["state"] == "complete" for t in reporter.finished)
    assert all(0.0 <= t["values"][0] <= 1.0 for t in reporter.finished)
    assert outcome.n_complete == len(numbers)
    # The outcome is one of the trials, and every trial's genotype builds a network.
    best = reporter.finished[outcome.number]
    assert best["params"]["genotype"] == outcome.genotype
    assert best["values"][0] == outcome.score
    for trial in reporter.finished:
        net = ctx.build(trial["params"]["genotype"])
        assert net(torch.zeros(2, 64)).shape == (2, 10)
    assert reporter.progress_values[-1] == pytest.approx(0.9)
    if isinstance(strategy, SamplingStrategy):
        assert len(numbers) == strategy.budget()
        assert outcome.score == max(t["values"][0] for t in reporter.finished)
    else:  # DARTS: one trial per epoch, α history per epoch, derived from the last α
        assert len(numbers) == config.strategy.options.epochs == len(outcome.alpha_history)
        assert outcome.number == numbers[-1]


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_cancelled_search_stops_between_candidates(digits, name):
    reporter = MemoryReporter(stop_after=1)
    _, ctx, strategy = context(digits, name, reporter)
    strategy.search(ctx)
    assert len(reporter.finished) == 1 and ctx.cancelled


@pytest.mark.parametrize("name", ["evolution", "rl", "random"])
def test_a_resumed_search_goes_on_from_the_stored_trials(digits, name):
    first = MemoryReporter(stop_after=2)
    _, ctx, strategy = context(digits, name, first)
    strategy.search(ctx)
    stored = [
        candidate_from_trial(t["number"], t["state"], t["params"], t["values"])
        for t in first.finished
    ]
    stored.append(Candidate(2, [], {}, "failed", error="lost"))  # a trial in flight

    second = MemoryReporter()
    _, ctx, strategy = context(digits, name, second, history=stored)
    outcome = strategy.search(ctx)
    new = [t["number"] for t in second.finished]
    assert new == list(range(3, 3 + strategy.budget() - 2))  # the budget is not restarted
    assert outcome.n_complete == strategy.budget()


def test_constraints_reject_candidates_before_training(digits):
    reporter = MemoryReporter()
    _, ctx, strategy = context(digits, "random", reporter, constraints={"max_params": 1500})
    outcome = strategy.search(ctx)
    rejected = [t for t in reporter.finished if t["state"] == "pruned"]
    assert rejected and outcome.n_rejected == len(rejected)
    assert all("max_params" in t["error"] and t["values"] is None for t in rejected)
    assert all(t["params"]["cost"]["params"] > 1500 for t in rejected)
    kept = [t for t in reporter.finished if t["state"] == "complete"]
    assert len(kept) == strategy.budget()
    assert all(t["params"]["cost"]["params"] <= 1500 for t in kept)
    assert not any(n for n, _, _ in reporter.reported if n in {t["number"] for t in rejected})


def test_aging_evolution_kills_the_oldest_not_the_worst():
    space = MacroSpace(MacroSpace.options(widths=[4, 8], max_layers=2))
    evo = RegularizedEvolution(
        RegularizedEvolution.options(population=3, sample_size=2, cycles=5), space, 0
    )
    members = [space.sample(random.Random(i)) for i in range(4)]
    for choices, score in zip(members, [0.9, 0.1, 0.2, 0.3], strict=True):
        evo.tell(choices, score)
    assert [s for _, s in evo.population] == [0.1, 0.2, 0.3]  # the best (oldest) died
    evo.tell(members[0], None)  # a rejected candidate never joins
    assert len(evo.population) == 3


def test_evolution_mutates_the_best_of_its_sample():
    space = MacroSpace(MacroSpace.options(widths=[4, 8], max_layers=2))
    evo = RegularizedEvolution(
        RegularizedEvolution.options(population=2, sample_size=2, cycles=5), space, 0
    )
    good, bad = [0, 1, 1, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0, 0]
    evo.tell(good, 0.9)
    evo.tell(bad, 0.1)
    for _ in range(20):
        child = evo.ask()
        assert sum(a != b for a, b in zip(child, good, strict=True)) == 1


def test_the_rl_controller_learns_what_is_rewarded():
    space = MacroSpace(MacroSpace.options(widths=[4, 8, 16], max_layers=1, min_layers=1))
    rl = ReinforceSearch(ReinforceSearch.options(controller_lr=0.1, entropy_weight=0.0), space, 0)
    width = 1  # decision index of the first layer's width
    for _ in range(150):
        choices = rl.ask()
        rl.tell(choices, 1.0 if choices[width] == 2 else 0.0)
    picks = [rl.ask()[width] for _ in range(100)]
    assert np.mean(np.equal(picks, 2)) > 0.8


def test_rl_penalises_rejected_candidates():
    space = MacroSpace(MacroSpace.options(widths=[4, 8], max_layers=1, min_layers=1))
    rl = ReinforceSearch(ReinforceSearch.options(controller_lr=0.1, entropy_weight=0.0), space, 0)
    for _ in range(150):
        choices = rl.ask()
        rl.tell(choices, None if choices[1] == 1 else 0.5)
    assert np.mean([rl.ask()[1] == 0 for _ in range(100)]) > 0.8


class StopAfterChecks(MemoryReporter):
    """Asks to stop from its n+1-th check on, counting the checks."""

    def __init__(self, n):
        super().__init__()
        self.n, self.checks = n, 0

    def should_stop(self):
        self.checks += 1
        return self.checks > self.n


def test_darts_stops_inside_an_epoch_and_stores_no_partial_epoch(digits):
    reporter = StopAfterChecks(3)  # the epoch's check, then two steps
    config = validate_nas_config(
        {
            "strategy": {"name": "darts", "epochs": 1000, "batch_size": 8},
            "space": {"name": "cell", "cells": 2, "nodes": 2, "channels": 4},
        },
        "image",
    )
    ctx = NasContext(config, prepare(config, digits), reporter, resolve_device("cpu"), [])
    outcome = STRATEGIES["darts"](config.strategy.options, ctx.space, config.seed).search(ctx)
    assert reporter.checks == 4  # stopped at the third step of the first of 1000 epochs
    assert outcome.genotype is None and reporter.finished == []
