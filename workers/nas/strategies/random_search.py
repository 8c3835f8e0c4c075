"""Random search: every decision drawn uniformly; the baseline the others must beat."""

from __future__ import annotations

from dataclasses import dataclass

from workers.hpo.options import Options, integer, option
from workers.nas.strategies._base import SamplingStrategy, register


@dataclass(frozen=True)
class RandomOptions(Options):
    candidates: int = option(integer(20, 1, 10000))


@register
class RandomSearch(SamplingStrategy):
    name = "random"
    options = RandomOptions
    parallel = True

    def budget(self) -> int:
        return self.opts.candidates

    def ask(self) -> list[int]:
        return self.space.sample(self.rng)

    def propose(self, finished, position, rng):
        return self.space.sample(rng)
