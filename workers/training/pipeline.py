"""Model parallel: one nn.Sequential cut into stages, each stage on its own device.

A model too large for one GPU runs across the worker's GPUs: stage i lives on devices[i] and
the forward pass moves the activations from one stage's device to the next. With `chunks`
> 1 the batch is cut into micro-batches (GPipe-style); CUDA launches kernels asynchronously,
so stage i works on micro-batch j + 1 while stage i + 1 works on micro-batch j. Autograd
follows the `.to(device)` copies, so backward and any optimizer work unchanged. On a CPU
every stage is on "cpu" and the staged model computes exactly what the unsplit one does.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def balanced_cuts(model: nn.Sequential, stages: int) -> list[int]:
    """Start index of each stage, cutting so that each stage holds about an equal share of
    the parameters (and at least one layer)."""
    if not 1 <= stages <= len(model):
        raise ValueError(f"stages must be from 1 to the number of layers ({len(model)})")
    sizes = [sum(p.numel() for p in layer.parameters()) for layer in model]
    before = list(itertools.accumulate(sizes, initial=0))  # before[i]: parameters in [0, i)
    cuts = [0]
    for k in range(1, stages):
        # The first boundary holding k/stages of the parameters, keeping a layer per stage.
        lo, hi = cuts[-1] + 1, len(model) - (stages - k)
        target = before[-1] * k / stages
        cuts.append(next((i for i in range(lo, hi + 1) if before[i] >= target), hi))
    return cuts


class PipelineModel(nn.Module):
    """The layers of `model` in len(devices) consecutive stages, stage i on devices[i].

    cuts: start index of each stage (cuts[0] == 0); by default the parameters are split
    evenly. The output is on the last stage's device.
    """

    def __init__(
        self,
        model: nn.Sequential,
        devices: list[str | torch.device],
        cuts: list[int] | None = None,
        chunks: int = 1,
    ) -> None:
        super().__init__()
        if not devices:
            raise ValueError("devices must name at least one device")
        if chunks < 1:
            raise ValueError("chunks must be at least 1")
        cuts = balanced_cuts(model, len(devices)) if cuts is None else list(cuts)
        if (
            len(cuts) != len(devices)
            or cuts[0] != 0
            or cuts != sorted(set(cuts))
            or cuts[-1] >= len(model)
        ):
            raise ValueError("cuts must start at 0 and rise, one per device, within the model")
        self.devices = [torch.device(d) for d in devices]
        bounds = [*cuts, len(model)]
        self.stages = nn.ModuleList(
            model[start:end].to(device)
            for start, end, device in zip(bounds, bounds[1:], self.devices, strict=False)
        )
        self.chunks = chunks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for micro in x.chunk(self.chunks) if self.chunks > 1 else (x,):
            for stage, device in zip(self.stages, self.devices, strict=True):
                micro = stage(micro.to(device, non_blocking=True))
            outputs.append(micro)
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def worker_devices(stages: int) -> list[torch.device]:
    """One device per stage: the process's GPUs in turn, or the CPU for every stage."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        return [torch.device("cpu")] * stages
    return [torch.device("cuda", i % count) for i in range(stages)]
