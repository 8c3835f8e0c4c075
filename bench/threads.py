"""Threads per worker child: what a child's thread count costs when children share cores.

    .venv/bin/python bench/threads.py [--repeats 5]

Two workloads a worker child runs: a DARTS-like convolution step (a sep_conv_3x3 cell
operation, forward and backward, on 64 images of 16 channels at 16x16) and one MLP epoch
(train_mlp on 2,000 rows x 32 features, 2 x 256 hidden units). Each is timed at 1 and 2
torch threads, first as the only process, then as two processes running the same work at
once (a worker with concurrency 2 on this machine). The table gives the median
milliseconds of one run in each process. The worker's rule (workers/training/threads.py)
is cores ÷ concurrency; WORKER_TORCH_THREADS overrides it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def conv_step() -> Callable[[], None]:
    import torch

    from workers.training.genotype import make_op

    torch.manual_seed(0)
    op = make_op("sep_conv_3x3", 16, 1)
    x = torch.randn(64, 16, 16, 16)

    def run() -> None:
        op(x).square().mean().backward()

    return run


def mlp_epoch() -> Callable[[], None]:
    import numpy as np

    from workers.training.mlp import MLP, MLPConfig, train_mlp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2_000, 32)).astype(np.float32)
    y = (X[:, :10] + 0.5 * rng.normal(size=(2_000, 10))).argmax(axis=1)

    def run() -> None:
        model = MLP(MLPConfig(32, 10, hidden_layers=2, hidden_units=256, dropout=0.1))
        train_mlp(
            model,
            X,
            y,
            None,
            None,
            task="classification",
            epochs=1,
            lr=1e-3,
            batch_size=64,
            weight_decay=0.0,
            seed=0,
        )

    return run


WORKLOADS = {"sep_conv_3x3 fwd+bwd": conv_step, "MLP epoch (2,000 rows)": mlp_epoch}


def timed(name: str, threads: int, repeats: int, start, results) -> None:
    """One process: pin the threads, build the workload, wait for the others, time it."""
    from workers.training.measure import median_ms
    from workers.training.threads import pin_threads

    pin_threads(threads)
    run = WORKLOADS[name]()
    start.wait()  # the processes of one row time their runs at the same moment
    results.put(median_ms(run, repeats=repeats, warmup=1))


def measure(name: str, threads: int, processes: int, repeats: int) -> float:
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=timed, args=(name, threads, repeats, start, results))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    times = [results.get() for _ in procs]
    for p in procs:
        p.join()
    return max(times)  # the slower process: what the later job waits for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} when starting\n", flush=True)
    print(
        "| workload | processes at once | 1 thread each (ms) | 2 threads each (ms) | 2 / 1 |",
        flush=True,
    )
    print("| --- | --- | --- | --- | --- |", flush=True)
    for name in WORKLOADS:
        for processes in (1, 2):
            one = measure(name, 1, processes, args.repeats)
            two = measure(name, 2, processes, args.repeats)
            print(
                f"| {name} | {processes} | {one:.1f} | {two:.1f} | {two / one:.2f} |", flush=True
            )


if __name__ == "__main__":
    main()
