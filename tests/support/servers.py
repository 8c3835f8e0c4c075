"""Local servers the tests start: a free port, and an exported bundle's own serve.py."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def bundle_server(folder: Path, start_within_s: float = 60) -> Iterator[str]:
    """Run the unpacked bundle in `folder` (python serve.py) and yield its base URL once
    /healthz answers; it is stopped on exit. Only the bundle is on its path (-E -s, run
    from the folder): it must not need anything from this repository."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-E", "-s", "serve.py", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + start_within_s
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the bundle did not start"
                time.sleep(0.2)  # polls the server's own health answer
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
