"""What a trial printed: its stdout, stderr and Python logging, captured while it runs.

A worker process runs one trial at a time, so swapping sys.stdout/sys.stderr for the
trial's duration captures that trial (threads it starts included); what it writes still
reaches the worker's own log too (a tee). The text kept is bounded: the first HEAD_CHARS
and the last TAIL_CHARS, the middle replaced by a line saying how much was left out. It
is redacted before it leaves the process: `key=value` pairs whose key names a secret, the
password of a URL, and the values of the environment's secret variables.

Every log record carries `ids` ("job 7 trial 3 ", or ""), from the job and trial the
current code runs for (log_context), so the worker's log format can name them.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import os
import re
import sys
from collections.abc import Iterator

HEAD_CHARS = 16_000
TAIL_CHARS = 48_000
REDACTED = "[redacted]"
_SECRET_WORDS = r"password|passwd|secret|token|api[_-]?key|access[_-]?key|authorization"
_KEY_VALUE = re.compile(rf"(?i)((?:{_SECRET_WORDS})[\w-]*[\"']?\s*[=:]\s*[\"']?)([^\s\"',;]+)")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
_SECRET_ENV = re.compile(r"(?i)secret|token|password|passwd|api_?key|private")
_MIN_SECRET_CHARS = 8  # shorter environment values would redact ordinary words

# (name, value) pairs: an immutable default.
_context: contextvars.ContextVar[tuple] = contextvars.ContextVar("trial_log_ids", default=())


def redact(text: str) -> str:
    """The text with secrets replaced by [redacted]."""
    for name, value in os.environ.items():
        if _SECRET_ENV.search(name) and len(value) >= _MIN_SECRET_CHARS:
            text = text.replace(value, REDACTED)
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}\3", text)
    return _KEY_VALUE.sub(rf"\1{REDACTED}", text)


class _Bounded(io.TextIOBase):
    """Keeps the first HEAD_CHARS and the last TAIL_CHARS written, counting the rest;
    passes every write on to `tee` (the worker's own stream), if any."""

    def __init__(self, tee=None) -> None:
        self.head: list[str] = []
        self.head_chars = 0
        self.tail = ""
        self.dropped = 0
        self.tee = tee

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.tee is not None:
            with contextlib.suppress(Exception):  # a closed worker stream loses no trial
                self.tee.write(text)
        room = HEAD_CHARS - self.head_chars
        if room > 0:
            self.head.append(text[:room])
            self.head_chars += len(text[:room])
            text = text[room:]
        if text:
            self.tail += text
            if len(self.tail) > TAIL_CHARS:
                self.dropped += len(self.tail) - TAIL_CHARS
                self.tail = self.tail[-TAIL_CHARS:]
        return len(text)

    def flush(self) -> None:
        if self.tee is not None:
            with contextlib.suppress(Exception):
                self.tee.flush()

    def text(self) -> str:
        gap = f"\n[... {self.dropped} characters left out ...]\n" if self.dropped else ""
        return "".join(self.head) + gap + self.tail


class TrialLog:
    """Captures a trial's output while used as a context manager; `text` after it."""

    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level
        self.text = ""
        self._buffer: _Bounded | None = None

    def so_far(self) -> str:
        """What the trial has written until now, while capturing (another thread may ask)."""
        return redact(self._buffer.text()) if self._buffer is not None else self.text

    @contextlib.contextmanager
    def capture(self) -> Iterator[TrialLog]:
        buffer = self._buffer = _Bounded(tee=sys.__stderr__)
        handler = logging.StreamHandler(buffer)
        handler.setLevel(self.level)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                yield self
        finally:
            root.removeHandler(handler)
            self.text = redact(buffer.text())
            self._buffer = None


@contextlib.contextmanager
def log_context(**ids: int) -> Iterator[None]:
    """Name these ids (job=7, trial=3) in every log record made inside the block."""
    token = _context.set((*((n, v) for n, v in _context.get() if n not in ids), *ids.items()))
    try:
        yield
    finally:
        _context.reset(token)


def install_record_ids() -> None:
    """Give every log record an `ids` attribute (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_ids", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.ids = "".join(f"{name} {value} " for name, value in _context.get())
        return record

    factory.adds_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
