"""The one training loop: every network the workers train goes through `train`.

MLPs and CNNs of HPO trials, NAS candidates and retrained genotypes, data-parallel ranks,
compression fine-tuning and distillation differ only in the loss, the optimizer, the
schedule and what happens between epochs; those come in as arguments and `Hooks`. The
loop itself reads top to bottom (after nanoGPT's train.py):

    for each epoch:
        shuffle (a seeded generator of its own, so dropout draws do not move the order)
        for each optimizer step:
            forward/backward over k micro-batches (gradient accumulation), under autocast
            clip, step, zero the gradients
            stop? (cancel, deadline), progress
        schedule, then epoch hook (evaluate, report, checkpoint, early stop)

With stages > 1 the network's blocks are spread over several devices for the whole run
(workers/training/pipeline.py); the loop, its hooks and the caller see the same module.

With the default options (no AMP, k = 1, no clipping, one process) it is exactly the plain
zero_grad / backward / step loop: each micro-batch's share is 1.0 and the disabled
gradient scaler passes everything through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import distributed as dist
from torch import nn
from torch.nn import functional as F

from workers.failures import NumericalError
from workers.training import pipeline
from workers.training.options import TrainerOptions
from workers.training.stopping import StopCheck

# loss(net, x_batch, y_batch, rows): the batch's mean loss; rows index the whole x (a loss
# that reads per-row targets computed beforehand, as distillation's soft targets, needs them).
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
OptimizerFn = Callable[[list[nn.Parameter]], torch.optim.Optimizer]
SCHEDULES = (None, "cosine")
PROGRESS_PER_EPOCH = 10  # progress reports per epoch, so that long epochs show movement


def cross_entropy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor):
    return F.cross_entropy(net(x).float(), y)  # the loss in fp32 even under AMP


def mse(net: nn.Module, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor):
    return F.mse_loss(net(x).float().squeeze(-1), y)


@dataclass(frozen=True)
class Hooks:
    """What a caller does around the loop.

    on_epoch(epoch): after each epoch and its schedule step: evaluate, report, checkpoint.
        Returning True stops training early (the model stays as it is); raising (e.g.
        optuna.TrialPruned) ends it with that exception.
    on_progress(fraction): the share of the run done, in (0, 1], a few times per epoch.
    stop: checked after every optimizer step; raises Cancelled or DeadlineExceeded.
    """

    on_epoch: Callable[[int], bool | None] | None = None
    on_progress: Callable[[float], None] | None = None
    stop: StopCheck = field(default_factory=StopCheck)


# --- precision, accumulation, clipping, step


def autocast(options: TrainerOptions, device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed-precision context for the forward pass and loss (a no-op without AMP)."""
    if not options.amp:
        return contextlib.nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(options: TrainerOptions, device: torch.device) -> torch.amp.GradScaler:
    """fp16 gradients underflow without loss scaling; everything else gets a pass-through."""
    enabled = options.amp and device.type == "cuda"
    return torch.amp.GradScaler(device.type, enabled=enabled)


def step_groups(
    order: torch.Tensor, batch_size: int, accumulation_steps: int
) -> Iterator[list[tuple[torch.Tensor, float]]]:
    """Row indices per optimizer step: k micro-batches, each with its share of the step's rows.

    Weighting each micro-batch's mean loss by rows / step rows makes the summed gradient
    the mean over the step's rows, so k steps of batch b equal one step of batch k*b even
    when the last group is short.
    """
    step_rows = batch_size * accumulation_steps
    for start in range(0, len(order), step_rows):
        rows = order[start : start + step_rows]
        yield [
            (rows[i : i + batch_size], len(rows[i : i + batch_size]) / len(rows))
            for i in range(0, len(rows), batch_size)
        ]


def optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    options: TrainerOptions,
) -> None:
    """Clip (on unscaled gradients), step, and clear the accumulated gradients."""
    if options.clip_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), options.clip_norm)
    scaler.step(optimizer)  # skips the step when fp16 gradients overflowed
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


def split_stages(
    model: nn.Module, options: TrainerOptions, device: torch.device
) -> contextlib.AbstractContextManager:
    """options.stages > 1: the model's blocks in that many stages, one device each, until
    the run ends (then back on `device`, whole); a no-op for one stage."""
    if options.stages == 1:
        return contextlib.nullcontext()
    return pipeline.split(model, pipeline.stage_devices(options.stages, device))


def adamw(lr: float, weight_decay: float) -> OptimizerFn:
    return lambda params: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


# --- the loop


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    weight_decay: float = 0.0,
    loss: LossFn = cross_entropy,
    optimizer: OptimizerFn | None = None,
    extra_params: Iterable[nn.Parameter] = (),
    schedule: str | None = None,
    min_rows: int = 1,
    options: TrainerOptions | None = None,
    hooks: Hooks | None = None,
    rank: int = 0,
    world: int = 1,
) -> list[float]:
    """Train `model` in place on rows x, y (already on the training device); return the
    loss of every optimizer step (the mean over the step's rows, over all ranks).

    Args:
        optimizer: builds the optimizer from the trainable parameters (AdamW at lr and
            weight_decay by default).
        extra_params: trained beside the model's (e.g. distillation's projections).
        schedule: None (constant lr) or "cosine" (annealed to 0 over the epochs, per epoch).
        min_rows: micro-batches with fewer rows are skipped (BatchNorm cannot train on 1).
        options: mixed precision, accumulation, clipping, model-parallel stages. Its
            device is the caller's to apply: the model and rows are already there; with
            stages > 1 the model is split from that device over the trial's devices for
            the run and comes back to it whole.
        rank, world: with world > 1 the model is wrapped in DistributedDataParallel (the
            process group is the caller's); every rank draws the same shuffled global
            batches and takes every world-th row of each.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {SCHEDULES}")
    options = options or TrainerOptions()
    hooks = hooks or Hooks()
    device = x.device
    torch.manual_seed(seed)

    # --- model parallel: the blocks in stages on the trial's devices, for the whole run
    with split_stages(model, options, device):
        # --- setup: the forward module (DDP averages gradients across ranks), optimizer, scaler
        net: nn.Module = model
        if world > 1:
            net = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        params: Sequence[nn.Parameter] = [p for p in model.parameters() if p.requires_grad]
        opt = (optimizer or adamw(lr, weight_decay))([*params, *extra_params])
        scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
            if schedule == "cosine"
            else None
        )
        scaler = make_scaler(options, device)
        shuffler = torch.Generator().manual_seed(seed)
        step_rows = batch_size * options.accumulation_steps
        steps_per_epoch = max(1, -(-len(x) // step_rows))
        report_every = max(1, steps_per_epoch // PROGRESS_PER_EPOCH)
        losses: list[torch.Tensor] = []
        opt.zero_grad(set_to_none=True)  # nothing a caller computed before leaks into step 1

        for epoch in range(epochs):
            net.train()
            order = torch.randperm(len(x), generator=shuffler).to(device)
            for step, group in enumerate(
                step_groups(order, batch_size, options.accumulation_steps)
            ):
                group = [(idx, share) for idx, share in group if len(idx) >= min_rows]
                if not group:
                    continue

                # --- forward/backward over the step's micro-batches
                step_loss = torch.zeros((), device=device)
                for micro, (idx, share) in enumerate(group):
                    idx = idx[rank::world]
                    # Only the last micro-batch needs the gradient all-reduce.
                    sync = world == 1 or micro == len(group) - 1
                    with contextlib.nullcontext() if sync else net.no_sync():
                        with autocast(options, device):
                            batch_loss = loss(net, x[idx], y[idx], idx)
                        scaler.scale(batch_loss * share).backward()
                    step_loss += batch_loss.detach() * share

                # --- clip, step
                optimizer_step(model, opt, scaler, options)
                if world > 1:
                    dist.all_reduce(step_loss)
                    step_loss /= world
                losses.append(step_loss)

                # --- stop, log
                hooks.stop(f"in epoch {epoch}, after step {step + 1} of {steps_per_epoch}")
                if hooks.on_progress is not None and (
                    (step + 1) % report_every == 0 or step + 1 == steps_per_epoch
                ):
                    hooks.on_progress((epoch + (step + 1) / steps_per_epoch) / epochs)

            # --- a diverged run stops here (one device sync per epoch), named as numerical
            if losses and not torch.isfinite(losses[-1]).item():
                raise NumericalError(f"the training loss is {losses[-1].item()} in epoch {epoch}")

            # --- schedule, then evaluate / report / early stop
            if scheduler is not None:
                scheduler.step()
            if hooks.on_epoch is not None and hooks.on_epoch(epoch):
                break

    model.eval()
    return torch.stack(losses).tolist() if losses else []


def train_predicting(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    x_valid: torch.Tensor,
    predict: Callable[[torch.Tensor], np.ndarray],
    *,
    device: torch.device,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    stop: StopCheck | None = None,
    **train_args: Any,
) -> np.ndarray:
    """`train` on one device (train_args: its other arguments), predicting the validation
    rows after every epoch; return the last predictions (empty if no epoch ran).

    predict(x_valid) turns the model's outputs into predictions; on_epoch(epoch,
    predictions) hands them to the caller, who scores them and may raise (e.g.
    optuna.TrialPruned) to stop early.
    """
    model.to(device)
    x, x_valid, y = x.to(device), x_valid.to(device), y.to(device)
    predictions = np.empty(0)

    def after_epoch(epoch: int) -> None:
        nonlocal predictions
        predictions = predict(x_valid)
        if on_epoch is not None:
            on_epoch(epoch, predictions)

    train(model, x, y, hooks=Hooks(after_epoch, on_progress, stop or StopCheck()), **train_args)
    return predictions
