"""Dynamic batching: concurrent predict requests for one model version share a model call.

A deployment opts in with `batching` = {"max_batch_rows": N, "max_wait_ms": T}. Within a
web process, the first request to reach an idle batcher gathers: it waits at most T ms (or
until N rows are queued) for others, concatenates their prepared rows, runs the model once
and hands each request exactly its own rows' answers, in order. Later arrivals queue behind
it; while its model call runs, the next one in the queue gathers the next batch, so a busy
model batches itself. The gathering thread is a request's own: none lives on when idle.

Rows are prepared (validated and preprocessed) per request before they are queued, so a
value one caller's preprocessing cannot read is never another caller's error. A batch the
model refuses as input (ValueError/TypeError) is run again request by request, so that
error, too, reaches only the request that caused it; any other failure is the same
exception for every request of the batch.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse

from automl.serving.loader import LoadedModel

MAX_BATCH_ROWS = 10_000
MAX_WAIT_MS = 100.0


@dataclass
class _Request:
    rows: Any  # prepared rows, as LoadedModel.answer takes them
    n: int = field(init=False)
    leads: bool = False  # this request's thread gathers and runs the next batch
    done: bool = False
    out: dict | None = None
    error: BaseException | None = None
    # Set once the request is answered or made the gatherer: each waiter sleeps on its
    # own event, so an arrival wakes the gatherer alone, not every waiting thread.
    wake: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.n = self.rows.shape[0]


def _stack(parts: list[Any]) -> Any:
    if any(scipy.sparse.issparse(p) for p in parts):
        return scipy.sparse.vstack(parts, format="csr")
    return np.concatenate(parts, axis=0)


def _split(out: dict, sizes: list[int]) -> list[dict]:
    """One answer per request: the per-row lists cut at the requests' bounds."""
    answers, start = [], 0
    for n in sizes:
        answers.append({k: v if k == "classes" else v[start : start + n] for k, v in out.items()})
        start += n
    return answers


class Batcher:
    """The queue of one model version (and one batching setting)."""

    def __init__(self, max_rows: int, max_wait_ms: float) -> None:
        self.max_rows, self.max_wait_s = max_rows, max_wait_ms / 1000
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # the gatherer waits on it
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._gathering = False  # while True, the queue's head request leads

    def predict(self, model: LoadedModel, rows: Any) -> dict:
        """The model's answer to `rows` (prepared), computed in a batch with its neighbours."""
        item = _Request(rows)
        if item.n >= self.max_rows:  # a full batch on its own: nothing to wait for
            self._run(model, [item])
            return self._result(item)
        with self._lock:
            self._queue.append(item)
            self._queued_rows += item.n
            if self._gathering:
                self._arrived.notify()
            else:  # nobody gathers, so the queue was empty: this request leads
                self._gathering = item.leads = True
        if not item.leads:
            item.wake.wait()
        if not item.done:  # it leads: the batch it gathers starts with itself
            with self._lock:
                batch = self._gather()
            self._run(model, batch)
        return self._result(item)

    def _gather(self) -> list[_Request]:
        """Wait (lock held) for the batch to fill or the wait to end; take it off the queue
        and make the next waiting request the gatherer of the batch after."""
        deadline = time.monotonic() + self.max_wait_s
        while self._queued_rows < self.max_rows and (left := deadline - time.monotonic()) > 0:
            self._arrived.wait(left)
        batch, rows = [], 0
        while self._queue and (not batch or rows + self._queue[0].n <= self.max_rows):
            item = self._queue.popleft()
            batch.append(item)
            rows += item.n
        self._queued_rows -= rows
        if self._queue:  # it gathers while this batch runs
            self._queue[0].leads = True
            self._queue[0].wake.set()
        else:
            self._gathering = False
        return batch

    def _run(self, model: LoadedModel, batch: list[_Request]) -> None:
        """Answer every request of the batch (done, with an answer or an error)."""
        try:
            out = model.answer(_stack([item.rows for item in batch]))
            for item, answer in zip(batch, _split(out, [i.n for i in batch]), strict=True):
                item.out = answer
        except (ValueError, TypeError) as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # find whose rows the model refuses: only that request fails
                for item in batch:
                    self._run(model, [item])
        except Exception as exc:
            for item in batch:
                item.error = exc
        finally:
            for item in batch:
                if item.out is None and item.error is None:  # interrupted: nobody may hang
                    item.error = RuntimeError("the batch this request was in was interrupted")
                item.done = True
                item.wake.set()

    @staticmethod
    def _result(item: _Request) -> dict:
        if item.error is not None:
            raise item.error
        assert item.out is not None
        return item.out


_batchers: dict[tuple, Batcher] = {}
_batchers_lock = threading.Lock()


def batcher(model: LoadedModel, width: int, max_rows: int, max_wait_ms: float) -> Batcher:
    """The process's batcher for a model version, its prepared rows' width and a setting.

    Keyed by the storage key (ids repeat across recreated databases) and the width, so
    only rows the model could take together are stacked.
    """
    key = (model.storage_key, width, max_rows, max_wait_ms)
    with _batchers_lock:
        if (found := _batchers.get(key)) is None:
            found = _batchers[key] = Batcher(max_rows, max_wait_ms)
        return found


def predict(model: LoadedModel, rows: Any, setting: dict) -> dict:
    """The model's answer to prepared `rows`, batched as the deployment's setting says."""
    width = rows.shape[1] if rows.ndim > 1 else 1
    return batcher(model, width, setting["max_batch_rows"], setting["max_wait_ms"]).predict(
        model, rows
    )
