"""A NAS search spread over workers (`parallelism` > 1): runners on one shared Optuna study.

The job's study holds every candidate (its encoding, genotype, cost, score, the worker that
ran it and a heartbeat), so a runner sees what every other one has finished. Each runner,
until the search is done:

1. fails the candidates whose runner stopped beating (a dead worker's; they do not count);
2. stops once `budget` candidates are complete, the user cancelled or paused, the job's
   time is up or too many were proposed; waits while the complete and the training ones fill the
   budget (one of those may still be lost);
3. asks the study for a trial within the budget (studies.budget: complete and training
   candidates take a place; a trial whose place is past it is discarded); the strategy
   proposes a candidate for that place from those finished so far, and it is trained,
   stored as a trial and told to the study.

So exactly `budget` candidates complete, each once. A runner returns when the search is
done and no other runner is still training one; the one that closes the job calls
`close`. Constraint-rejected and failed candidates are stored
as trials and, as on one worker, do not count.
"""

from __future__ import annotations

import dataclasses
import random
import time
from datetime import UTC
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from workers.data.tabular import TabularData
from workers.nas.config import NASConfig
from workers.nas.engine import NasContext, NasError, conclude, prepare, resolve_device
from workers.nas.strategies import STRATEGIES, Candidate, SearchOutcome, Strategy
from workers.nas.strategies._base import outcome_of
from workers.reporter import Reporter, TrialRecord
from workers.studies import clock
from workers.studies.budget import NAMES, Budget, Step, counts
from workers.studies.heartbeat import LOST
from workers.studies.storage import study_id

POLL_S = 1.0
STARTED = "search_started"  # study system attr: the search's clock (workers/studies/clock.py)


def strategy_for(config: NASConfig, space) -> Strategy:
    strategy = STRATEGIES[config.strategy.name](config.strategy.options, space, config.seed)
    if not strategy.parallel:
        raise NasError(f"the {strategy.name} strategy runs on one worker (parallelism 1)")
    return strategy


def create_study(storage: optuna.storages.BaseStorage, study_name: str) -> None:
    """Create the job's study once; every runner may call it (it loads an existing one).
    Starts the search's clock, or runs it on after a pause."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction="maximize", load_if_exists=True
    )
    clock.start(storage, study_id(study), STARTED)


def stop_clock(storage: optuna.storages.BaseStorage, study_name: str) -> None:
    """The search stopped (paused, or done): until it runs again, its time does not count."""
    clock.stop(storage, storage.get_study_id_from_name(study_name), STARTED)


def run_candidates(
    config: NASConfig,
    data: TabularData,
    reporter: Reporter,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    *,
    worker: str = "",
    device: str = "auto",
    stale_after_s: float = 60.0,
) -> bool:
    """Run candidates on the job's shared study until the search is done; return once no
    other runner is still training one. True if the reporter stopped it (cancelled).

    The job's timeout_s counts the search's running time from the first runner's start
    (the study's clock, without paused intervals), so every runner stops proposing at the
    same moment.
    """
    create_study(storage, study_name)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler()
    )
    ctx = NasContext(
        dataclasses.replace(config, timeout_s=None),
        prepare(config, data),
        _Recorded(reporter, storage, study_id(study)),
        resolve_device(device),
        [],
    )
    strategy = strategy_for(config, ctx.space)
    budget = Budget(study, storage, strategy.budget(), _trained, stale_after_s)
    most = 10 * budget.size + 50  # proposals in all, as on one worker
    deadline = _deadline(config, storage, budget.study_id)
    while True:
        trials, lost = budget.read()
        for trial in lost:
            params = trial.user_attrs.get("params", {})
            reporter.trial_finished(trial.number, "failed", params, None, {}, LOST)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        ctx.progress(len(complete) / budget.size)
        over = deadline is not None and time.time() >= deadline
        # A pause ends asking as a cancel does; the study keeps the trials to go on from.
        stop = ctx.should_stop() or ctx.should_pause() or over or len(trials) >= most
        step = budget.next_step(trials, stop=stop)
        if step is Step.DONE:
            return ctx.cancelled
        if step is Step.WAIT:
            time.sleep(POLL_S)
            continue
        asked = budget.ask(most=most)
        if asked is None:
            continue
        trial, position = asked
        rng = random.Random(config.seed * 1_000_003 + trial.number)
        choices = strategy.propose(_finished(complete), position, rng)
        trial.set_user_attr("worker", worker)
        with budget.running(trial):
            candidate = ctx.evaluate(trial.number, choices)
        values = [candidate.score] if candidate.state == "complete" else None
        budget.tell(trial, candidate.state, values, candidate.error)


def summarize(
    storage: optuna.storages.BaseStorage, study_name: str
) -> tuple[SearchOutcome, float]:
    """The search's outcome (best complete candidate, first of equals; counts) and how
    long it took, from the first runner's start to the last candidate's end."""
    sid = storage.get_study_id_from_name(study_name)
    trials = sorted(_counted(storage, sid), key=lambda t: t.number)
    outcome = outcome_of([_candidate(t) for t in trials if t.state.is_finished()])
    workers = sorted({t.user_attrs.get("worker", "") for t in trials} - {""})
    outcome.notes = {"parallel": True, "workers": workers}
    started = clock.started(storage.get_study_system_attrs(sid), STARTED) or time.time()
    ends = [t.datetime_complete.astimezone(UTC).timestamp() for t in trials if t.datetime_complete]
    return outcome, max(0.0, max(ends, default=started) - started)


def close(
    config: NASConfig,
    data: TabularData,
    reporter: Reporter,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    *,
    directory: Path | None = None,
    stopped: bool = False,
    device: str = "auto",
) -> dict:
    """The job's result once the search is done (engine.conclude: unless stopped, the
    best candidate is retrained and saved). Run by the one runner that closes the job."""
    outcome, seconds = summarize(storage, study_name)
    deadline = _deadline(config, storage, storage.get_study_id_from_name(study_name))
    return conclude(
        config,
        prepare(config, data),
        outcome,
        resolve_device(device),
        reporter,
        directory=directory,
        stopped=stopped,
        timed_out=deadline is not None and time.time() >= deadline,
        search_s=seconds,
    )


# --- helpers


class _Recorded(Reporter):
    """Passes every call on, and keeps each trial's params in the study as well, so a
    runner that finds the trial's worker dead can report it lost with its architecture."""

    def __init__(
        self, reporter: Reporter, storage: optuna.storages.BaseStorage, study_id: int
    ) -> None:
        self.inner, self.storage, self.study_id = reporter, storage, study_id

    def trial_started(self, number: int, params: dict) -> None:
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        self.storage.set_trial_user_attr(trial_id, "params", params)
        self.inner.trial_started(number, params)

    def trial_reported(self, number: int, step: int, value: float) -> None:
        self.inner.trial_reported(number, step, value)

    def trial_record(self, number: int, record: TrialRecord) -> None:
        self.inner.trial_record(number, record)

    def trial_finished(self, number, state, params, values, intermediate_values, error=""):
        self.inner.trial_finished(number, state, params, values, intermediate_values, error)

    def progress(self, fraction: float) -> None:
        self.inner.progress(fraction)

    def should_stop(self) -> bool:
        return self.inner.should_stop()

    def should_pause(self) -> bool:
        return self.inner.should_pause()


def _deadline(config: NASConfig, storage, study_id: int) -> float | None:
    if config.timeout_s is None:
        return None
    return clock.started(storage.get_study_system_attrs(study_id), STARTED) + config.timeout_s


def _counted(storage, study: int) -> list[FrozenTrial]:
    return [t for t in storage.get_all_trials(study, deepcopy=False) if counts(t)]


def _trained(trial: FrozenTrial) -> bool:
    """Whether a candidate takes a place: complete, or still training."""
    return trial.state in (TrialState.COMPLETE, TrialState.RUNNING)


def _finished(complete: list[FrozenTrial]) -> list[Candidate]:
    """Complete candidates in the order they finished (then by number)."""
    ordered = sorted(complete, key=lambda t: (t.datetime_complete, t.number))
    return [_candidate(t) for t in ordered]


def _candidate(trial: FrozenTrial) -> Candidate:
    params = trial.user_attrs.get("params", {})
    return Candidate(
        number=trial.number,
        choices=list(params.get("encoding") or []),
        genotype=params.get("genotype") or {},
        state=NAMES[trial.state],
        score=trial.values[0] if trial.values else None,
        cost=params.get("cost") or {},
        error=trial.system_attrs.get("error", ""),
    )
