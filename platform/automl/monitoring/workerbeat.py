"""A Celery worker's heartbeat: its device, CPU and memory, written to the database.

Started by the worker_ready signal in the worker's main process. The GPU is read with
nvidia-smi, never through torch: CUDA must first be touched in the child that runs a
job (a CUDA context does not survive fork).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

log = logging.getLogger(__name__)
_stop = threading.Event()
_thread: threading.Thread | None = None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of the machine since boot (Linux), for a CPU share."""
    text = _read("/proc/stat")
    if not text:
        return None
    fields = [float(v) for v in text.split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def memory() -> dict[str, int | None]:
    """Machine memory total and available, in bytes (Linux; None elsewhere)."""
    values: dict[str, int | None] = {"memory_total": None, "memory_available": None}
    for line in (_read("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable"):
            name = "memory_total" if key == "MemTotal" else "memory_available"
            values[name] = int(rest.split()[0]) * 1024
    return values


def tree_rss(pid: int) -> int | None:
    """Resident memory of a process and its children (the pool), in bytes (Linux)."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    pids = [pid, *map(int, (_read(f"/proc/{pid}/task/{pid}/children") or "").split())]
    total, found = 0, False
    for child in pids:
        statm = _read(f"/proc/{child}/statm")
        if statm:
            total += int(statm.split()[1]) * page
            found = True
    return total if found else None


def gpus() -> list[dict[str, Any]]:
    """Name and memory of each NVIDIA GPU ([] when there is none or no nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,memory.total,memory.used,utilization.gpu",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    devices = []
    for line in out.strip().splitlines():
        name, total, used, util = (part.strip() for part in line.split(","))
        devices.append(
            {
                "name": name,
                "memory_total_mb": _number(total),
                "memory_used_mb": _number(used),
                "utilization": _number(util),
            }
        )
    return devices


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class Sampler:
    """Builds the `info` of a beat; the CPU share is over the time since the last one.
    concurrency: the worker's pool size, which splits its declared GPUs among the jobs."""

    def __init__(self, concurrency: int | None = None) -> None:
        self._last = cpu_times()
        self.concurrency = concurrency or 1

    def info(self) -> dict[str, Any]:
        now = cpu_times()
        cpu = None
        if now and self._last and now[1] > self._last[1]:
            cpu = 100.0 * (now[0] - self._last[0]) / (now[1] - self._last[1])
        self._last = now
        from automl.jobs.worker import declared_gpus, gpus_per_child

        devices, declared = gpus(), declared_gpus()
        return {
            "device": devices[0]["name"] if devices else "cpu",
            "gpus": devices,
            # AUTOML_WORKER_GPUS, and the most GPUs a job placed on this worker gets.
            "declared_gpus": declared,
            "gpus_per_child": gpus_per_child(self.concurrency, declared)
            if declared
            else len(devices),
            "cpu_count": os.cpu_count(),
            "cpu_percent": cpu,
            "load_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "rss_bytes": tree_rss(os.getpid()),
            **memory(),
        }


def beat(
    name: str, queues: list[str], concurrency: int | None, started_at, sampler: Sampler
) -> None:
    """Write one beat (a row per worker name, updated in place)."""
    from automl.monitoring.models import WorkerHeartbeat

    try:
        close_old_connections()
        WorkerHeartbeat.objects.update_or_create(
            name=name,
            defaults={
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "queues": queues,
                "concurrency": concurrency,
                "info": sampler.info(),
                "started_at": started_at,
                "last_seen": timezone.now(),
                "stopped_at": None,
            },
        )
    except Exception:  # a missed beat is only a late one; the worker keeps working
        log.exception("worker heartbeat %s could not be written", name)
    finally:
        # No connection stays open between beats: the pool's children are forked from
        # this process and must not inherit (and later close) a live one.
        connection.close()


def start(sender: Any = None, **kwargs: Any) -> None:
    """worker_ready handler: beat every WORKER_HEARTBEAT_S seconds until shutdown."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    name = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}"
    app = getattr(sender, "app", None)
    queues = sorted(app.amqp.queues.consume_from) if app is not None else []
    concurrency = getattr(getattr(sender, "pool", None), "limit", None)
    started_at, sampler = timezone.now(), Sampler(concurrency)
    every = settings.WORKER_HEARTBEAT_S
    _stop.clear()

    def loop() -> None:
        while True:
            beat(name, queues, concurrency, started_at, sampler)
            if _stop.wait(every):
                break
        try:
            from automl.monitoring.models import WorkerHeartbeat

            WorkerHeartbeat.objects.filter(name=name).update(stopped_at=timezone.now())
        except Exception:
            log.exception("worker %s: could not record its stop", name)
        finally:
            connection.close()

    _thread = threading.Thread(target=loop, name="automl-workerbeat", daemon=True)
    _thread.start()


def stop(**kwargs: Any) -> None:
    """worker_shutdown handler: one last write marks the worker stopped."""
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=5)
