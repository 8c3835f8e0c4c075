"""Data parallel over processes: one trial's fit split across several processes joined by
torch.distributed, each rank running the one training loop (workers.training.loop) on its
share of every batch."""

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

from workers.training import loop
from workers.training.measure import resolve_device
from workers.training.options import TrainerOptions
from workers.training.stopping import StopCheck

# --- data parallel over processes


RENDEZVOUS_TRIES = 3
# How often the parent checks the job's cancel flag and deadlines while the ranks train.
STOP_POLL_S = 1.0


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


def _join_watching(context, stop: StopCheck | None) -> None:
    """Wait for the ranks; when `stop` raises (the job was cancelled or a deadline passed)
    end every rank and raise it here. The ranks are spawned processes that cannot poll the
    job themselves (the reporter's check is no picklable thing), so the parent, idle while
    they train, checks for them."""
    try:
        while not context.join(timeout=STOP_POLL_S):
            if stop is not None:
                stop("inside a data-parallel fit")
    except BaseException:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
        for process in context.processes:
            process.join()
        raise


def run_distributed(
    fn: Callable[..., Any],
    processes: int,
    *args: Any,
    stop: StopCheck | None = None,
    **kwargs: Any,
) -> Any:
    """Run fn(rank, world, *args, **kwargs) in `processes` processes joined by torch.distributed
    (NCCL when the processes see a GPU, gloo otherwise); return rank 0's result.

    fn must be importable by name (a module-level function): the processes are spawned.
    Its result is made of tensors, numbers, strings, lists and dicts (it travels back
    through torch.save and comes back with weights_only loading). `stop` is checked every
    STOP_POLL_S while they run; when it raises, the ranks are ended and it propagates.
    """
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if processes == 1:
        return fn(0, 1, *args, **kwargs)  # the fn checks its own stop, if it has one
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
                    context = mp.spawn(
                        _rank_main,
                        args=(processes, free_port(), fn, args, kwargs, results),
                        nprocs=processes,
                        join=False,
                    )
                    _join_watching(context, stop)
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
    device = resolve_device(options.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    model = model.to(device)
    losses = loop.train(
        model,
        x.to(device),
        y.to(device),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        loss=loop.cross_entropy if task == "classification" else loop.mse,
        options=options,
        rank=rank,
        world=world,
    )
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
    stop: StopCheck | None = None,
) -> list[float]:
    """Train `model` in place over options.processes data-parallel processes; rank 0's
    weights come back into it. Returns the loss per optimizer step (the global mean).
    `stop` (the trial's cancel and deadline check) ends the ranks when it raises."""
    result = run_distributed(
        train_data_parallel,
        options.processes,
        model.cpu(),
        x,
        y,
        stop=stop,
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
