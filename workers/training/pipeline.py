"""Model parallel: a network's blocks split into consecutive stages, one device per stage.

A model too large for one GPU trains across the GPUs its trial was given: every stage's
blocks live on their own device, and the activations move to the next stage's device as
the forward pass reaches it. The split is made in place, with hooks, so the network keeps
its own class, forward and parameter names: the optimizer, the loss, the evaluation
between epochs and the predictor that saves it see the same module as an unsplit run.

Invariants:
- a stage is a run of whole blocks (`stage_blocks()`, declared by each network: a linear
  layer with its activation, a conv block, a DARTS cell, the head), at least one per stage,
  cut so that every stage holds about an equal share of the parameters;
- each block's inputs are moved to its device as it is called (a forward pre-hook), so
  blocks that read several earlier outputs (a DARTS cell's two inputs) work too;
- the network's output comes back to its input's device, so that the caller's targets,
  loss and metrics stay where they were;
- stage by stage, the split network computes exactly what the unsplit one does: on the
  CPU the results are equal, on GPUs equal up to each device's float rounding.

Stages run one after the other on one batch (naive model parallelism): this buys memory,
not speed. GPipe-style micro-batches would let stages overlap but change BatchNorm's batch
statistics (the split would no longer compute what the unsplit network does), and
torch.distributed.pipelining runs one process per stage, which a Celery child that owns
its trial's GPUs does not have.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence

import torch
from torch import nn


def blocks_of(model: nn.Module) -> list[list[nn.Module]]:
    """The model's blocks in forward order, each a list of modules that share a device.

    Raises ValueError for a network that declares none (`stage_blocks`)."""
    declared = getattr(model, "stage_blocks", None)
    if declared is None:
        raise ValueError(
            f"a {type(model).__name__} cannot be split into stages: it declares no blocks"
        )
    return declared()


def group_at(modules: Sequence[nn.Module], starts: type | tuple[type, ...]) -> list[list]:
    """Modules of a sequential stack in groups, a new group at each module of type `starts`
    (a Linear with the activation and dropout after it)."""
    groups: list[list[nn.Module]] = []
    for module in modules:
        if isinstance(module, starts) or not groups:
            groups.append([])
        groups[-1].append(module)
    return groups


def balanced_cuts(sizes: Sequence[int], stages: int) -> list[int]:
    """Index of the first block of each stage, cutting `sizes` (parameters per block) so
    that each stage holds about an equal share of the parameters and at least one block."""
    if not 1 <= stages <= len(sizes):
        raise ValueError(
            f"{stages} stages need at least {stages} blocks; this network has {len(sizes)}"
        )
    before = list(itertools.accumulate(sizes, initial=0))  # before[i]: parameters in [0, i)
    cuts = [0]
    for k in range(1, stages):
        # The first boundary holding k/stages of the parameters, keeping a block per stage.
        lo, hi = cuts[-1] + 1, len(sizes) - (stages - k)
        target = before[-1] * k / stages
        cuts.append(next((i for i in range(lo, hi + 1) if before[i] >= target), hi))
    return cuts


def _moves_inputs_to(device: torch.device):
    def hook(module: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)

    return hook


def _output_to_input_device(module: nn.Module, args: tuple, output):
    if isinstance(output, torch.Tensor) and args and isinstance(args[0], torch.Tensor):
        return output.to(args[0].device)
    return output


@contextlib.contextmanager
def split(model: nn.Module, devices: Sequence[torch.device | str]) -> Iterator[list[int]]:
    """Within the block, `model` runs in len(devices) stages, stage i on devices[i]; it
    yields the first block of each stage. On the way out the hooks are removed and the
    whole model goes back to devices[0]."""
    devices = [torch.device(d) for d in devices]
    blocks = blocks_of(model)
    covered = {id(p) for block in blocks for m in block for p in m.parameters()}
    if any(id(p) not in covered for p in model.parameters()):
        raise ValueError(f"{type(model).__name__}'s blocks leave parameters out")
    sizes = [sum(p.numel() for m in block for p in m.parameters()) for block in blocks]
    cuts = balanced_cuts(sizes, len(devices))
    handles = [model.register_forward_hook(_output_to_input_device)]
    try:
        for stage, (start, end) in enumerate(itertools.pairwise([*cuts, len(blocks)])):
            for block in blocks[start:end]:
                for module in block:
                    module.to(devices[stage])
                    handles.append(
                        module.register_forward_pre_hook(_moves_inputs_to(devices[stage]))
                    )
        yield cuts
    finally:
        for handle in handles:
            handle.remove()
        model.to(devices[0])


def stage_devices(stages: int, device: torch.device) -> list[torch.device]:
    """One device per stage: on CUDA the first `stages` GPUs this process sees (the trial's
    own, from the worker's CUDA_VISIBLE_DEVICES slice), on the CPU the CPU for every stage.

    Raises RuntimeError when the process sees fewer GPUs than stages."""
    if device.type != "cuda":
        return [device] * stages
    count = torch.cuda.device_count()
    if count < stages:
        raise RuntimeError(
            f"trainer.stages {stages} needs {stages} GPUs; this trial sees {count} "
            "(ask for them with resources.gpus)"
        )
    return [torch.device("cuda", i) for i in range(stages)]
