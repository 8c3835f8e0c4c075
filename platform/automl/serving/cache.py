"""The predict result cache: Redis when REDIS_URL is set, else this process's memory.

Values are JSON text, never pickles (Django's cache framework would pickle them), so the
cache holds data only whoever can write to it.
"""

from __future__ import annotations

import json
import threading
import time
from functools import cache
from typing import Any

from django.conf import settings

PREFIX = "automl:predict:"


class MemoryCache:
    """A small TTL map for the embedded default (one process, no Redis)."""

    def __init__(self, max_items: int = 10_000) -> None:
        self._items: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self.max_items = max_items

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return item[1]

    def set(self, key: str, value: str, ex: int) -> None:
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()  # crude but bounded; production uses Redis
            self._items[key] = (time.monotonic() + ex, value)

    def flushdb(self) -> None:
        with self._lock:
            self._items.clear()


@cache
def _backend(redis_url: str) -> Any:
    if not redis_url:
        return MemoryCache()
    import redis

    # Short timeouts: a slow cache must not hold up an answer the model can give itself.
    return redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)


def backend() -> Any:
    return _backend(settings.REDIS_URL)


def get(key: str) -> dict | None:
    try:
        raw = backend().get(PREFIX + key)
    except Exception:  # Redis down: serve from the model
        return None
    return None if raw is None else json.loads(raw)


def put(key: str, value: dict, ttl: int) -> None:
    try:
        backend().set(PREFIX + key, json.dumps(value, separators=(",", ":")), ex=ttl)
    except Exception:
        pass  # Redis down: the answer is still right, only not cached


def clear() -> None:
    """Forget every cached prediction (tests; after a model's files were replaced)."""
    store = backend()
    if isinstance(store, MemoryCache):
        store.flushdb()
        return
    for key in store.scan_iter(match=PREFIX + "*", count=1000):
        store.delete(key)
