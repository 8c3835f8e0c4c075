"""Random search: every decision drawn uniformly; the baseline the others must beat."""

from __future__ import annotations

from workers.hpo.options import integer
from workers.nas.strategies._base import SamplingStrategy, register


@register
class RandomSearch(SamplingStrategy):
    name = "random"
    options = {"candidates": integer(20, 1, 10000)}
    parallel = True

    def budget(self) -> int:
        return self.opts["candidates"]

    def ask(self) -> list[int]:
        return self.space.sample(self.rng)

    def propose(self, finished, position, rng):
        return self.space.sample(rng)
