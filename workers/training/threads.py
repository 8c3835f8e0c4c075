"""How many threads a worker child computes with.

Several pool children of one worker share the machine's cores: each taking all of them
oversubscribes the cores and every child slows down by more than the share it gave up
(bench/threads.py measures it; bench/README.md has the table). A child therefore takes
cores ÷ concurrency threads, for torch and for the BLAS/OpenMP libraries under numpy and
scikit-learn, unless the operator says otherwise with WORKER_TORCH_THREADS.
"""

from __future__ import annotations

import os

ENV = "WORKER_TORCH_THREADS"


def worker_threads(concurrency: int, cores: int | None = None) -> int:
    """Threads for one of `concurrency` children on `cores` cores (os.cpu_count() by
    default): WORKER_TORCH_THREADS when set, else cores ÷ concurrency, at least 1.

    A value that is not a positive integer is refused (ValueError) rather than guessed.
    """
    configured = os.environ.get(ENV, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"{ENV} must be a positive integer, not {configured!r}")
        return int(configured)
    return max(1, (cores or os.cpu_count() or 1) // max(1, concurrency))


def pin_threads(threads: int) -> None:
    """Limit this process to `threads` compute threads: torch's intra-op pool and the
    BLAS/OpenMP pools that numpy and scikit-learn use (through threadpoolctl)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
