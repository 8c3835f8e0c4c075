"""A NAS search spread over workers (`parallelism` > 1): runners on one shared Optuna study.

The job's study holds every candidate (its encoding, genotype, cost, score, the worker that
ran it and a heartbeat), so a runner sees what every other one has finished. Each runner,
until the search is done:

1. fails the candidates whose runner stopped beating (a dead worker's; they do not count);
2. stops once `budget` candidates are complete, the user cancelled, the job's time is up
   or too many were proposed; waits while the complete and the training ones fill the
   budget (one of those may still be lost);
3. asks the study for a trial number. The counted candidates (complete or training) with
   smaller numbers are its position: at or past the budget, two runners raced for the
   last place and this number is discarded (never run, never reported); otherwise the
   strategy proposes a candidate from those finished so far, and it is trained, stored
   as a trial and told to the study.

So exactly `budget` candidates complete, each once. A runner returns when the search is
done and no other runner is still training one; the one that closes the job calls
`close`. Constraint-rejected and failed candidates are stored
as trials and, as on one worker, do not count.
"""

from __future__ import annotations

import random
import time
from datetime import UTC
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from workers.data.tabular import TabularData
from workers.nas.engine import NasContext, NasError, conclude, prepare, resolve_device
from workers.nas.strategies import STRATEGIES, Candidate, SearchOutcome, Strategy
from workers.nas.strategies._base import outcome_of
from workers.reporter import Reporter
from workers.shared_study import LOST, fail_stale, trial_heartbeat

POLL_S = 1.0
STARTED = "search_started"  # study system attr: when the first runner began (epoch seconds)
_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
_NAMES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
}


def strategy_for(config: dict, space) -> Strategy:
    strategy = STRATEGIES[config["strategy"]["name"]](config["strategy"], space, config["seed"])
    if not strategy.parallel:
        raise NasError(f"the {strategy.name} strategy runs on one worker (parallelism 1)")
    return strategy


def create_study(storage: optuna.storages.BaseStorage, study_name: str) -> None:
    """Create the job's study once; every runner may call it (it loads an existing one)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction="maximize", load_if_exists=True
    )
    if STARTED not in storage.get_study_system_attrs(study._study_id):
        storage.set_study_system_attr(study._study_id, STARTED, time.time())


def run_candidates(
    config: dict,
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

    The job's timeout_s counts from the first runner's start (the study's STARTED), so
    every runner stops proposing at the same moment.
    """
    create_study(storage, study_name)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler()
    )
    study_id = study._study_id
    ctx = NasContext(
        {**config, "timeout_s": None},
        prepare(config, data),
        _Recorded(reporter, storage, study_id),
        resolve_device(device),
        [],
    )
    strategy = strategy_for(config, ctx.space)
    budget = strategy.budget()
    most = 10 * budget + 50  # proposals in all, as on one worker
    deadline = _deadline(config, storage, study_id)
    while True:
        trials = _read(storage, study_id, stale_after_s, reporter)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        running = [t for t in trials if t.state == TrialState.RUNNING]
        ctx.progress(len(complete) / budget)
        over = deadline is not None and time.time() >= deadline
        stop = ctx.should_stop() or over or len(trials) >= most
        if stop or len(complete) + len(running) >= budget:
            if not running:
                return ctx.cancelled
            time.sleep(POLL_S)
            continue
        trial = study.ask()
        position, before = _place(storage, study_id, trial.number)
        if position >= budget or before >= most:
            storage.set_trial_system_attr(trial._trial_id, "discarded", True)
            study.tell(trial, state=TrialState.FAIL)
            continue
        rng = random.Random(config["seed"] * 1_000_003 + trial.number)
        choices = strategy.propose(_finished(complete), position, rng)
        storage.set_trial_user_attr(trial._trial_id, "worker", worker)
        with trial_heartbeat(storage, trial._trial_id):
            candidate = ctx.evaluate(trial.number, choices)
        if candidate.error:
            storage.set_trial_system_attr(trial._trial_id, "error", candidate.error)
        values = [candidate.score] if candidate.state == "complete" else None
        study.tell(trial, values, state=_STATES[candidate.state])


def summarize(
    storage: optuna.storages.BaseStorage, study_name: str
) -> tuple[SearchOutcome, float]:
    """The search's outcome (best complete candidate, first of equals; counts) and how
    long it took, from the first runner's start to the last candidate's end."""
    study_id = storage.get_study_id_from_name(study_name)
    trials = sorted(_counted(storage, study_id), key=lambda t: t.number)
    outcome = outcome_of([_candidate(t) for t in trials if t.state.is_finished()])
    workers = sorted({t.user_attrs.get("worker", "") for t in trials} - {""})
    outcome.notes = {"parallel": True, "workers": workers}
    started = storage.get_study_system_attrs(study_id).get(STARTED, time.time())
    ends = [t.datetime_complete.astimezone(UTC).timestamp() for t in trials if t.datetime_complete]
    return outcome, max(0.0, max(ends, default=started) - started)


def close(
    config: dict,
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

    def trial_finished(self, number, state, params, values, intermediate_values, error=""):
        self.inner.trial_finished(number, state, params, values, intermediate_values, error)

    def progress(self, fraction: float) -> None:
        self.inner.progress(fraction)

    def should_stop(self) -> bool:
        return self.inner.should_stop()


def _deadline(config: dict, storage, study_id: int) -> float | None:
    if config.get("timeout_s") is None:
        return None
    return storage.get_study_system_attrs(study_id)[STARTED] + config["timeout_s"]


def _counted(storage, study_id: int) -> list[FrozenTrial]:
    return [
        t
        for t in storage.get_all_trials(study_id, deepcopy=False)
        if not t.system_attrs.get("discarded")
    ]


def _read(storage, study_id: int, stale_after_s: float, reporter: Reporter) -> list[FrozenTrial]:
    """The study's candidates, after failing those whose worker stopped beating; each one
    failed is reported lost."""
    trials = _counted(storage, study_id)
    lost = fail_stale(storage, trials, stale_after_s)
    for trial in lost:
        params = trial.user_attrs.get("params", {})
        reporter.trial_finished(trial.number, "failed", params, None, {}, LOST)
    return _counted(storage, study_id) if lost else trials


def _place(storage, study_id: int, number: int) -> tuple[int, int]:
    """(counted candidates before trial `number`, proposals before it)."""
    before = [t for t in _counted(storage, study_id) if t.number < number]
    counted = sum(t.state in (TrialState.COMPLETE, TrialState.RUNNING) for t in before)
    return counted, len(before)


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
        state=_NAMES[trial.state],
        score=trial.values[0] if trial.values else None,
        cost=params.get("cost") or {},
        error=trial.system_attrs.get("error", ""),
    )
