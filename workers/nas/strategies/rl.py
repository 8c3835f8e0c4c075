"""Reinforcement-learning search (Zoph & Le, 2017; the controller of ENAS, Pham et al., 2018).

A small recurrent controller (GRU cell) emits the space's decisions one per step, each
conditioned on the previous ones through its hidden state. It is trained with REINFORCE:
the reward is the candidate's proxy score (0 for a candidate a constraint rejected), minus
a moving-average baseline that lowers the gradient's variance, plus an entropy bonus that
keeps it exploring.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.hpo.options import Options, integer, number, option
from workers.nas.strategies._base import SamplingStrategy, register


@dataclass(frozen=True)
class ReinforceOptions(Options):
    candidates: int = option(integer(20, 1, 10000))
    controller_lr: float = option(number(0.05, 1e-5, 1.0))
    baseline_decay: float = option(number(0.9, 0.0, 0.999))
    entropy_weight: float = option(number(1e-3, 0.0, 1.0))
    hidden: int = option(integer(32, 4, 512))


@register
class ReinforceSearch(SamplingStrategy):
    name = "rl"
    options = ReinforceOptions

    def __init__(self, options, space, seed):
        import torch

        from workers.nas.controller import Controller

        super().__init__(options, space, seed)
        torch.manual_seed(seed)
        self.controller = Controller([d.n for d in space.decisions()], self.opts.hidden)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.opts.controller_lr)
        self.generator = torch.Generator().manual_seed(seed)
        self.baseline: float | None = None

    def budget(self) -> int:
        return self.opts.candidates

    def ask(self) -> list[int]:
        return self.controller.sample(self.generator)

    def tell(self, choices, score):
        reward = 0.0 if score is None else float(score)
        # The first reward sets the baseline, so the first update does not push blindly.
        if self.baseline is None:
            self.baseline = reward
        decay = self.opts.baseline_decay
        advantage = reward - self.baseline
        self.baseline = decay * self.baseline + (1 - decay) * reward
        log_prob, entropy = self.controller.log_prob(choices)
        loss = -advantage * log_prob - self.opts.entropy_weight * entropy
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
