"""A heartbeat: a background thread that calls a function at a fixed interval."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def beating(
    beat: Callable[[], bool | None],
    every_s: float,
    *,
    name: str,
    first_now: bool = True,
    on_exit: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Call `beat()` every `every_s` seconds while the block runs.

    `beat` returning False ends the heartbeat early (what it marks has finished);
    `on_exit` runs in the thread when it ends (to close a per-thread connection).
    """
    stop = threading.Event()

    def loop() -> None:
        try:
            if first_now and beat() is False:
                return
            while not stop.wait(every_s):
                if beat() is False:
                    return
        finally:
            if on_exit is not None:
                on_exit()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
