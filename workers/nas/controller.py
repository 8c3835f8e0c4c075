"""The RL strategy's policy: a GRU cell that emits one categorical decision per step."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Controller(nn.Module):
    def __init__(self, sizes: list[int], hidden: int = 32) -> None:
        super().__init__()
        self.sizes = sizes
        self.start = nn.Parameter(torch.zeros(hidden))
        # Each decision has its own input embedding (of the previous choice) and head.
        self.embed = nn.ModuleList(nn.Embedding(n, hidden) for n in sizes)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in sizes)
        self.cell = nn.GRUCell(hidden, hidden)

    def _steps(self, choose):
        """Run the decisions; choose(step, logits) returns the choice (sampled or given)."""
        h = torch.zeros(1, self.start.numel())
        x = self.start.unsqueeze(0)
        log_prob, entropy, choices = torch.zeros(()), torch.zeros(()), []
        for step, head in enumerate(self.heads):
            h = self.cell(x, h)
            logits = head(h).squeeze(0)  # -> (n choices,)
            logp = F.log_softmax(logits, dim=-1)
            choice = choose(step, logits)
            log_prob = log_prob + logp[choice]
            entropy = entropy - (logp.exp() * logp).sum()
            choices.append(choice)
            x = self.embed[step](torch.tensor([choice]))
        return choices, log_prob, entropy

    def sample(self, generator: torch.Generator) -> list[int]:
        with torch.no_grad():
            choices, _, _ = self._steps(
                lambda _, logits: int(
                    torch.multinomial(F.softmax(logits, -1), 1, generator=generator)
                )
            )
        return choices

    def log_prob(self, choices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(choices) and the summed entropy of the decisions, with gradients."""
        _, log_prob, entropy = self._steps(lambda step, _: int(choices[step]))
        return log_prob, entropy
