"""The worker process: GPU pinning and core share per pool child, GPU memory released
after each task, a dispatch when it joins, and what a job records of the worker that ran
it.

Connected when the worker imports the job tasks (automl.jobs.tasks). CUDA is first touched
inside a child, never in the worker's parent.
"""

import gc
import os
import platform
import socket
import sys

from celery.signals import celeryd_init, task_postrun, worker_process_init, worker_ready

_children = os.cpu_count() or 1


@celeryd_init.connect
def _remember_concurrency(options: dict | None = None, **kwargs) -> None:
    global _children
    _children = (options or {}).get("concurrency") or os.cpu_count() or 1


def gpu_for_child(index: int, declared: str) -> str | None:
    """The GPU pool child `index` trains on: the worker's declared GPUs (AUTOML_WORKER_GPUS,
    e.g. "0,1") taken in turn, so concurrent jobs do not share one."""
    gpus = [gpu.strip() for gpu in declared.split(",") if gpu.strip()]
    return gpus[index % len(gpus)] if gpus else None


@worker_process_init.connect
def _share_cores(**kwargs) -> None:
    from billiard.process import current_process

    # Before CUDA is first touched in this child: it sees its own GPU only.
    gpu = gpu_for_child(
        getattr(current_process(), "index", 0) or 0, os.environ.get("AUTOML_WORKER_GPUS", "")
    )
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    # Children of one worker split the machine's cores instead of each taking all of them
    # (bench/threads.py: oversubscribed cores slow every child down); torch and BLAS alike.
    from workers.training.threads import pin_threads, worker_threads

    pin_threads(worker_threads(_children))


@worker_ready.connect
def _dispatch_for_new_worker(**kwargs) -> None:
    # A worker joining frees capacity: jobs the scheduler held back may go now.
    from django.db import connection

    from automl.jobs.dispatch import dispatch_quietly

    try:
        dispatch_quietly()
    finally:
        # The pool's children are forked from this process: no connection left open here.
        connection.close()


@task_postrun.connect
def _release_gpu_memory(**kwargs) -> None:
    # The next job on this child starts with its GPU's memory free, not held by the cache
    # of tensors the last one left behind.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        gc.collect()
        torch.cuda.empty_cache()


def worker_info() -> dict:
    import torch

    # CUDA is first touched here, inside the child that runs the job, never in the parent.
    cuda = torch.cuda.is_available()
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "system": platform.system(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_memory_free_mb": torch.cuda.mem_get_info()[0] // 2**20 if cuda else None,
    }
