"""Trainer options every training loop shares: device, mixed precision, accumulation, clipping,
and data-parallel runs over several processes.

A loop reads top to bottom with these helpers:

    device = resolve_device(options)
    scaler = make_scaler(options, device)
    for group in step_groups(order, batch_size, options.accumulation_steps):
        for idx, share in group:
            with autocast(options, device):
                loss = loss_fn(model(x[idx]), y[idx])
            scaler.scale(loss * share).backward()
        optimizer_step(model, optimizer, scaler, options)

With the default options (cpu, no AMP, k = 1, no clipping) this is exactly the plain
zero_grad / backward / step loop: the share is 1.0 and the disabled scaler passes through.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import distributed as dist
from torch import nn
from torch.nn import functional as F

# The options live in a torch-free module (the web process validates them); re-exported here
# for the training loops.
from workers.training.options import DEVICES, TrainerOptions, option_errors  # noqa: F401

# --- device and precision


def resolve_device(options: TrainerOptions) -> torch.device:
    """The device the options ask for; asking for CUDA without a GPU is an error, not a
    silent fall back to a CPU run that would take hours."""
    if options.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if options.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but this process sees no GPU")
    return torch.device(options.device)


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


# --- accumulation, clipping, step


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


# --- data parallel over processes


RENDEZVOUS_TRIES = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(
    rank: int, world: int, port: int, fn: Callable, args: tuple, kwargs: dict, results
) -> None:
    cuda = torch.cuda.is_available()
    if cuda:
        # One GPU per rank when there are enough; ranks share GPUs otherwise.
        torch.cuda.set_device(rank % torch.cuda.device_count())
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
    )
    # torch.multiprocessing hands every rank the same shared-memory tensors: without private
    # copies each rank's optimizer would step one shared set of weights, world times a step.
    args, kwargs = copy.deepcopy((args, kwargs))
    try:
        result = fn(rank, world, *args, **kwargs)
        if rank == 0:  # the metric is reported once, not once per process
            # As bytes: a tensor sent as is lives in this process's shared memory, gone
            # once it exits; torch.save keeps the result loadable with weights_only.
            buffer = io.BytesIO()
            torch.save(result, buffer)
            results.put(buffer.getvalue())
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def _allowed_children() -> Iterator[None]:
    """Let a Celery pool child spawn the ranks, as a plain process can.

    Celery's children are billiard processes standing in for multiprocessing's current
    process: they are daemonic (multiprocessing refuses children to those, which could
    outlive them; the ranks are joined before this returns) and carry billiard's authkey
    type, which multiprocessing's spawn cannot hand on. Both are put back afterwards.
    """
    import multiprocessing.process as mpp

    config = mpp.current_process()._config
    saved = {key: config[key] for key in ("daemon", "authkey") if key in config}
    config["daemon"] = False
    if "authkey" in saved:
        config["authkey"] = mpp.AuthenticationString(bytes(saved["authkey"]))
    try:
        yield
    finally:
        config.update(saved)


def run_distributed(fn: Callable[..., Any], processes: int, *args: Any, **kwargs: Any) -> Any:
    """Run fn(rank, world, *args, **kwargs) in `processes` processes joined by torch.distributed
    (NCCL when the processes see a GPU, gloo otherwise); return rank 0's result.

    fn must be importable by name (a module-level function): the processes are spawned.
    Its result is made of tensors, numbers, strings, lists and dicts (it travels back
    through torch.save and comes back with weights_only loading).
    """
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if processes == 1:
        return fn(0, 1, *args, **kwargs)
    import torch.multiprocessing as mp

    results = mp.get_context("spawn").SimpleQueue()
    # Each rank would otherwise take every core and the ranks would fight over them.
    threads = max(1, (os.cpu_count() or 1) // processes)
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        with _allowed_children():
            for attempt in range(RENDEZVOUS_TRIES):
                try:
                    mp.spawn(
                        _rank_main,
                        args=(processes, free_port(), fn, args, kwargs, results),
                        nprocs=processes,
                        join=True,
                    )
                    break
                except mp.ProcessRaisedException as exc:
                    # The free port may be taken by another process before rank 0 binds it
                    # (seen with several trials starting at once): draw another.
                    if "EADDRINUSE" not in str(exc) or attempt == RENDEZVOUS_TRIES - 1:
                        raise
                except mp.ProcessExitedException:
                    # A rank killed by a signal (seen: SIGABRT in gloo on a loaded machine)
                    # takes the others down; the fit is seeded, so a rerun is the same fit.
                    if attempt == RENDEZVOUS_TRIES - 1:
                        raise
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    return torch.load(io.BytesIO(results.get()), weights_only=True)


def train_data_parallel(
    rank: int,
    world: int,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    task: str,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    weight_decay: float = 0.0,
    options: TrainerOptions | None = None,
) -> dict[str, Any]:
    """One rank's part of a data-parallel fit; with world 1 it is a plain one-process fit.

    Every rank draws the same shuffled global batches (same seed) and takes every world-th
    row of each; DistributedDataParallel averages the gradients, so with batch sizes
    divisible by world the ranks follow the one-process run on the same global batch.
    Returns {"losses": global mean loss per optimizer step, "state": rank 0's weights}.
    """
    options = options or TrainerOptions()
    torch.manual_seed(seed)
    device = resolve_device(options)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    model = model.to(device)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scaler = make_scaler(options, device)
    shuffler = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=shuffler)
        for group in step_groups(order, batch_size, options.accumulation_steps):
            step_loss = torch.zeros((), device=device)
            for micro, (idx, share) in enumerate(group):
                idx = idx[rank::world].to(device)
                # Only the last micro-batch needs the gradient all-reduce.
                sync = micro == len(group) - 1 or world == 1
                ctx = contextlib.nullcontext() if sync else net.no_sync()
                with ctx, autocast(options, device):
                    out = net(x[idx])
                    if task == "classification":
                        loss = F.cross_entropy(out.float(), y[idx])
                    else:
                        loss = F.mse_loss(out.float().squeeze(-1), y[idx])
                scaler.scale(loss * share).backward()
                step_loss += loss.detach() * share
            optimizer_step(model, optimizer, scaler, options)
            if world > 1:
                dist.all_reduce(step_loss)
                step_loss /= world
            losses.append(float(step_loss))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"losses": losses, "state": state}


def fit_distributed(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    task: str,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    weight_decay: float,
    options: TrainerOptions,
) -> list[float]:
    """Train `model` in place over options.processes data-parallel processes; rank 0's
    weights come back into it. Returns the loss per optimizer step (the global mean)."""
    result = run_distributed(
        train_data_parallel,
        options.processes,
        model.cpu(),
        x,
        y,
        task=task,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        weight_decay=weight_decay,
        options=options,
    )
    model.load_state_dict(result["state"])
    return result["losses"]
