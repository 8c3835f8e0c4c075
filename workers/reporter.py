"""Callbacks through which an HPO run reports progress to whoever runs it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrialRecord:
    """What else the engine knows of a finished trial, beside its state and values.

    failure_class: workers.failures class of a failed trial ("" otherwise).
    retry_of: the number of the failed trial this one retries, or None.
    retry_change: what the retry changed, name -> [from, to] (workers.failures.Retry).
    log: its captured, bounded and redacted output (workers.trial_log).
    """

    failure_class: str = ""
    retry_of: int | None = None
    retry_change: dict = field(default_factory=dict)
    log: str = ""


class Reporter:
    """Base reporter: every hook is a no-op; the platform subclasses it."""

    def trial_started(self, number: int, params: dict) -> None:
        """A trial got its parameters and starts training."""

    def trial_reported(self, number: int, step: int, value: float) -> None:
        """An intermediate (per-epoch) validation value."""

    def trial_finished(
        self,
        number: int,
        state: str,
        params: dict,
        values: list[float] | None,
        intermediate_values: dict[int, float],
        error: str = "",
    ) -> None:
        """A trial ended; state is "complete", "pruned" or "failed"."""

    def trial_record(self, number: int, record: TrialRecord) -> None:
        """Sent just before trial_finished: the trial's failure class, retry link, log."""

    def progress(self, fraction: float) -> None:
        """Overall progress in [0, 1]."""

    def should_stop(self) -> bool:
        """True once the user cancelled the run."""
        return False

    def should_pause(self) -> bool:
        """True once the user paused the run: start no new trial, let running ones end."""
        return False


class MemoryReporter(Reporter):
    """Records everything in memory (tests, benchmarks)."""

    def __init__(self, stop_after: int | None = None, pause_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.pause_after = pause_after
        self.started: list[dict] = []
        self.reported: list[tuple[int, int, float]] = []
        self.finished: list[dict] = []
        self.progress_values: list[float] = []
        self.records: dict[int, TrialRecord] = {}

    def trial_started(self, number: int, params: dict) -> None:
        self.started.append({"number": number, "params": dict(params)})

    def trial_reported(self, number: int, step: int, value: float) -> None:
        self.reported.append((number, step, value))

    def trial_finished(self, number, state, params, values, intermediate_values, error=""):
        self.finished.append(
            {
                "number": number,
                "state": state,
                "params": dict(params),
                "values": values,
                "intermediate_values": dict(intermediate_values),
                "error": error,
            }
        )

    def trial_record(self, number: int, record: TrialRecord) -> None:
        self.records[number] = record

    def progress(self, fraction: float) -> None:
        self.progress_values.append(fraction)

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.finished) >= self.stop_after

    def should_pause(self) -> bool:
        return self.pause_after is not None and len(self.finished) >= self.pause_after
