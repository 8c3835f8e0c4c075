"""A cap on the memory one trial may take, so that a runaway trial fails as out of memory
instead of the kernel's OOM killer taking the whole worker (and every trial in it).

Linux's RLIMIT_AS bounds the process's address space; the soft limit is set to the size
mapped now plus the trial's allowance while the trial runs, then set back (a soft limit
may be raised again up to the hard one). An allocation past it fails: numpy and Python
raise MemoryError, torch a RuntimeError saying it "can't allocate memory", and
workers.failures names both "oom". The cap covers the whole process, threads included,
so it is lifted before the trial's failure is handled. Where RLIMIT_AS does not exist
(not Linux), the cap is not applied.

One allocation failure does not reach the trial as itself: linecache.getlines swallows a
MemoryError (it returns no lines), so code that reads its own source while being imported
(inspect.getsource) raises OSError("could not get source code") instead. Under the cap
that error is the cap's doing, and memory_cap raises it again as the MemoryError it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

MIN_MB = 1
SWALLOWED = "could not get source code"  # inspect's words once linecache ate a MemoryError
MAX_MB = 1_048_576  # 1 TiB


def mapped_bytes() -> int:
    """The process's address space now (Linux: /proc/self/statm's first field)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_cap(megabytes: int | None) -> Iterator[None]:
    """At most `megabytes` more address space while the block runs (None: no cap)."""
    if megabytes is None or resource is None or not os.path.exists("/proc/self/statm"):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped_bytes() + megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    except OSError as exc:
        if str(exc) != SWALLOWED:
            raise
        raise MemoryError(
            f"out of memory under the trial's cap of {megabytes} MB ({exc}: a source file "
            "could not be read into memory)"
        ) from exc
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
