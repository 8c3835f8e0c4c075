"""Heavy web-side work (ONNX and TorchScript exports, Triton and service bundles), one at a
time per web process, with a bounded wait.

torch.export is not thread-safe (concurrent exports in one process failed), and each
export holds a request thread and the interpreter for seconds: a dozen at once left none
for /healthz. Here one request per process does such work; another waits at most
HEAVY_WORK_WAIT_S for its turn, then gets a 503 "busy, retry" with Retry-After. Probes and
every other request never wait on this lock.

Why a lock rather than a Celery task with polling: the work's result is the download the
request answers (a few MB, built in seconds), so a task would add a stored artifact, a
status endpoint and a second request for every export; serializing per process gives the
thread safety and keeps probes fast, and more web processes (gunicorn --workers) export
in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from automl.errors import Busy

_turn = threading.BoundedSemaphore(1)


@contextmanager
def one_at_a_time(what: str) -> Iterator[None]:
    """Run the block as this process's one heavy piece of work, or raise Busy."""
    if not _turn.acquire(timeout=settings.HEAVY_WORK_WAIT_S):
        raise Busy(
            f"busy: this server process is already building an export or bundle; retry "
            f"{what} in a few seconds"
        )
    try:
        yield
    finally:
        _turn.release()
