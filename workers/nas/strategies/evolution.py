"""Regularized (aging) evolution (Real et al., 2019).

A population of `population` random architectures; then each of `cycles` cycles samples
`sample_size` members uniformly, mutates the best of them (one decision: an operation or
an input edge of a cell, a layer's width, kernel, activation, or the depth) and adds the
child while the oldest member dies, whatever its score: old architectures cannot linger
on a lucky proxy score.

Across workers (parallelism > 1) it runs in the asynchronous steady-state form of the
paper: a worker that is free reads the candidates finished so far, takes the latest
`population` of them as the population, and mutates the best of a sample (`propose`);
the first `population` candidates are random.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from workers.hpo.options import Options, integer, option
from workers.nas.strategies._base import SamplingStrategy, register


@dataclass(frozen=True)
class EvolutionOptions(Options):
    population: int = option(integer(10, 2, 1000))
    sample_size: int = option(integer(3, 1, 1000))
    cycles: int = option(integer(20, 0, 100000))

    def check(self, add):
        population, sample = self.population, self.sample_size
        if isinstance(population, int) and isinstance(sample, int) and sample > population:
            add("sample_size", "must not exceed population")


@register
class RegularizedEvolution(SamplingStrategy):
    name = "evolution"
    options = EvolutionOptions
    parallel = True
    budget_option = "cycles"  # each cycle trains one more candidate

    def __init__(self, options, space, seed):
        super().__init__(options, space, seed)
        self.population: deque[tuple[list[int], float]] = deque()
        self.born = 0  # scored members ever added; the first `population` are random

    def budget(self) -> int:
        return self.opts.population + self.opts.cycles

    def ask(self) -> list[int]:
        if self.born < self.opts.population:
            return self.space.sample(self.rng)
        sample = self.rng.sample(list(self.population), self.opts.sample_size)
        parent = max(sample, key=lambda member: member[1])
        return self.space.mutate(parent[0], self.rng)

    def tell(self, choices, score):
        if score is None:
            return  # rejected by a constraint, or failed: never a parent
        self.population.append((list(choices), score))
        self.born += 1
        if len(self.population) > self.opts.population:
            self.population.popleft()  # the oldest dies

    def propose(self, finished, position, rng):
        if position < self.opts.population or not finished:
            return self.space.sample(rng)
        # Aging: only the latest finished are alive, whatever the older ones scored.
        population = finished[-self.opts.population :]
        sample = rng.sample(population, min(self.opts.sample_size, len(population)))
        parent = max(sample, key=lambda candidate: candidate.score)
        return self.space.mutate(parent.choices, rng)
