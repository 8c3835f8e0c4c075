"""The worker process: a slice of GPUs and a core share per pool child, GPU memory released
after each task, a dispatch when it joins, whether a job can be placed on the child, how a
trial that ignores its stop checks is ended there, and what a job records of the worker
that ran it.

Connected when the worker imports the job tasks (automl.jobs.tasks). CUDA is first touched
inside a child, never in the worker's parent.
"""

import gc
import logging
import os
import platform
import socket
import sys

from celery.signals import celeryd_init, task_postrun, worker_process_init, worker_ready

log = logging.getLogger(__name__)
_children = os.cpu_count() or 1
_pool_child = False  # this process is a prefork pool child (worker_process_init)


@celeryd_init.connect
def _remember_concurrency(options: dict | None = None, **kwargs) -> None:
    global _children
    _children = (options or {}).get("concurrency") or os.cpu_count() or 1


GPUS_ENV = "AUTOML_WORKER_GPUS"
_child_gpus: list[str] | None = None  # this pool child's GPUs; None: the worker declared none


def declared_gpus(declared: str | None = None) -> list[str]:
    """The worker's GPUs as AUTOML_WORKER_GPUS lists them ("0,1,2,3")."""
    text = os.environ.get(GPUS_ENV, "") if declared is None else declared
    return [gpu.strip() for gpu in text.split(",") if gpu.strip()]


def gpus_for_child(index: int, children: int, declared: list[str]) -> list[str]:
    """The GPUs pool child `index` of `children` trains on: its own slice of the worker's
    declared GPUs, so concurrent jobs never share one. With G GPUs and C children each
    child holds G // C of them (run `--concurrency 1` to give one job every GPU); with
    fewer GPUs than children, they are taken in turn, one per child."""
    if not declared:
        return []
    per = len(declared) // max(1, children)
    if per <= 1:
        return [declared[index % len(declared)]]
    index %= children
    return declared[index * per : (index + 1) * per]


def gpus_per_child(children: int, declared: list[str]) -> int:
    """How many GPUs each child of this worker holds: the most a job placed here gets."""
    return len(gpus_for_child(0, children, declared))


@worker_process_init.connect
def _share_cores(**kwargs) -> None:
    global _child_gpus, _pool_child
    _pool_child = True
    from billiard.process import current_process

    # Before CUDA is first touched in this child: it sees its own slice of GPUs only.
    declared = declared_gpus()
    if declared:
        index = getattr(current_process(), "index", 0) or 0
        _child_gpus = gpus_for_child(index, _children, declared)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(_child_gpus)
    # Children of one worker split the machine's cores instead of each taking all of them
    # (bench/threads.py: oversubscribed cores slow every child down); torch and BLAS alike.
    from workers.training.threads import pin_threads, worker_threads

    pin_threads(worker_threads(_children))


def trial_hard_stop():
    """How a trial that outlives its stop checks (one long call that checks none) is ended
    in this process: by ending the process, a pool child. Its worker starts a fresh child
    and, the task being acks_late and reject_on_worker_lost, the broker hands the trial
    runner to it again, which goes on with the next trial. None outside a pool child (an
    in-process run, the solo pool): ending that process would end the whole worker or the
    caller, and nothing would take the runner over; trials then stop by their checks only.
    """
    from django.conf import settings
    from django.db import connection

    from workers.training.stopping import HardStop

    if not _pool_child:
        return None

    def end_process() -> None:
        log.warning("ending worker process %s: a trial outlived its hard limit", os.getpid())
        os._exit(1)

    # The watchdog's thread reads the cancel flag through a connection of its own, closed
    # as it ends (resolved inside the thread: `connection` is per thread).
    return HardStop(end_process, settings.TRIAL_STOP_GRACE_S, on_exit=lambda: connection.close())


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


def child_gpu_count() -> int:
    """GPUs this child may use: its slice of the declared GPUs, or, on a worker that
    declares none, every GPU the process sees (CUDA is touched here, in the child)."""
    if _child_gpus is not None:
        return len(_child_gpus)
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def placement_problem(resources: dict, worker: str) -> str | None:
    """Why this child cannot run a job with these resources (None when it can).

    A job asking for resources.gpus N runs on one child holding at least N GPUs. A child
    holding fewer fails the job with this reason rather than running it short of devices
    or handing it back: a Katib trial whose pod cannot be placed says why (an
    "Insufficient nvidia.com/gpu" event) instead of running on less. The submission is
    not refused by looking at the live workers: workers come and go, a GPU job waits
    queued until a GPU worker is up (monitoring.fleet.waiting_reason), and a heartbeat
    can be minutes old.
    """
    asked = int(resources.get("gpus") or 0)
    if asked == 0:
        return None
    have = child_gpu_count()
    if have >= asked:
        return None
    held = f"{have} GPU" + ("" if have == 1 else "s") if have else "no GPU"
    return (
        f"needs {asked} GPU{'' if asked == 1 else 's'}, worker {worker} gives each job {held} "
        f"({GPUS_ENV} split over its --concurrency children): start a worker whose "
        "children hold enough, or ask for fewer"
    )


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
        "gpus": _child_gpus,
        "gpu_memory_free_mb": torch.cuda.mem_get_info()[0] // 2**20 if cuda else None,
    }
