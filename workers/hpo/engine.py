"""Runs one HPO job: an in-memory Optuna study driven trial by trial (ask/tell)."""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import TrialState

from workers.data.splits import Split, holdout_split, kfold_splits
from workers.data.tabular import TabularData
from workers.heartbeat import beating
from workers.hpo.families import FAMILIES, ReportFn
from workers.hpo.space import distributions, family_params, suggest
from workers.reporter import Reporter

_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}


@dataclass
class HpoResult:
    best_number: int | None
    best_params: dict
    best_value: float | None
    metric: str
    direction: str
    n_complete: int
    n_pruned: int
    n_failed: int
    stopped: bool


class HpoError(Exception):
    """The job cannot produce a result (e.g. every trial failed)."""


TEST_SIZE = 0.2  # held out before any search; only the refit best model is scored on it
HEARTBEAT_S = 2.0


def make_storage(url: str | None) -> optuna.storages.BaseStorage:
    """In-memory (None), an Optuna journal file ("journal:/path"), or an RDB URL."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    return _shared_storage(url)


def close_storages() -> None:
    """Close the pools of every storage this process opened (e.g. before dropping a DB)."""
    for storage in list(_OPEN_STORAGES):
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()
    _OPEN_STORAGES.clear()
    _shared_storage.cache_clear()


_OPEN_STORAGES: list[optuna.storages.BaseStorage] = []


@functools.lru_cache(maxsize=32)
def _shared_storage(url: str) -> optuna.storages.BaseStorage:
    # One storage (and so one small connection pool) per URL for the process's lifetime:
    # a worker runs many jobs, and a pool per job would exhaust the database's connections.
    if url.startswith("journal:"):
        backend = optuna.storages.journal.JournalFileBackend(url.removeprefix("journal:"))
        storage: optuna.storages.BaseStorage = optuna.storages.JournalStorage(backend)
    else:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs={"pool_pre_ping": True, "pool_size": 2, "max_overflow": 4}
        )
    _OPEN_STORAGES.append(storage)
    return storage


def create_study(config: dict, storage: optuna.storages.BaseStorage, study_name: str):
    """Create the job's study once (idempotent), seeded with any warm-start trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction=config["direction"],
        load_if_exists=True,
    )
    if not study.trials:
        for record in config.get("warm_start", {}).get("trials", []):
            _add_warm_start(study, config["search_space"], record)
    return study


def run_hpo(
    config: dict, data: TabularData, reporter: Reporter, previous_trials: Sequence[dict] = ()
) -> HpoResult:
    """Run a whole study in this process (in memory); counts include previous trials."""
    storage = make_storage(None)
    study = create_study(config, storage, "local")
    _add_previous(study, config["search_space"], sorted(previous_trials, key=_number))
    stopped = run_trials(config, data, reporter, storage, "local")
    result = summarize(config, storage, "local", allow_empty=stopped)
    result.stopped = stopped
    return result


def run_trials(
    config: dict, data: TabularData, reporter: Reporter, storage: optuna.storages.BaseStorage,
    study_name: str, *, runner: int = 0, stale_after_s: float = 60.0,
) -> bool:
    """Run trials on a shared study until it holds `n_trials` of them; True if cancelled.

    Several processes may run this on one study at once. Each asks for a trial only while
    the study holds fewer than `n_trials`; when two ask at once and the later one gets a
    number past the budget, that trial is discarded (told FAIL, marked, never run and
    never counted), so the trials that ran are numbered exactly 0..n_trials-1.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if config["task"] != data.task:
        raise HpoError(f"config is for {config['task']} but the dataset is {data.task}")
    splits = _make_splits(config, _search_part(config, data))
    existing = len(storage.get_all_trials(storage.get_study_id_from_name(study_name)))
    study = optuna.load_study(
        study_name=study_name, storage=storage,
        # Each runner and each resumption draws its own sequence from the job's seed.
        sampler=_make_sampler(config["sampler"], existing + 1000 * runner),
        pruner=_make_pruner(config["pruner"]),
    )
    n_trials, timeout_s = config["n_trials"], config["timeout_s"]
    started, ran = time.monotonic(), 0
    while True:
        if reporter.should_stop():
            return True
        # Like Optuna's own timeout, checked between trials: a trial is never cut.
        if ran and timeout_s is not None and time.monotonic() - started >= timeout_s:
            return False
        reap_stale_trials(storage, study_name, stale_after_s)
        if len(study.get_trials(deepcopy=False)) >= n_trials:
            return False
        trial = study.ask()
        if trial.number >= n_trials:
            study._storage.set_trial_system_attr(trial._trial_id, "discarded", True)
            study.tell(trial, state=TrialState.FAIL)
            return False
        with _heartbeat(storage, trial._trial_id):
            _run_trial(study, trial, config, splits, reporter)
        ran += 1
        finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
        fraction = len([t for t in finished if _counts(t)]) / n_trials
        if timeout_s is not None:
            fraction = max(fraction, (time.monotonic() - started) / timeout_s)
        reporter.progress(min(1.0, fraction))


def reap_stale_trials(
    storage: optuna.storages.BaseStorage, study_name: str, stale_after_s: float = 60.0
) -> int:
    """Fail the running trials whose worker stopped beating; return how many still run."""
    study_id = storage.get_study_id_from_name(study_name)
    running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
    now, alive = time.time(), 0
    for trial in running:
        beat = trial.system_attrs.get("heartbeat", now)
        if now - beat <= stale_after_s:
            alive += 1
            continue
        try:
            storage.set_trial_system_attr(trial._trial_id, "error", LOST)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except RuntimeError:
            pass  # it finished in the meantime
    return alive


def summarize(
    config: dict, storage: optuna.storages.BaseStorage, study_name: str, *,
    allow_empty: bool = False,
) -> HpoResult:
    """Counts and the best trial of the study; HpoError if no trial completed."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = [t for t in study.get_trials(deepcopy=False) if _counts(t)]
    counts = {state: sum(t.state == state for t in trials) for state in _STATES.values()}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete and not allow_empty:
        if counts[TrialState.FAIL] == len(trials):
            first = next((t.system_attrs["error"] for t in trials if "error" in t.system_attrs),
                         "unknown")
            raise HpoError(f"all {len(trials)} trials failed; first error: {first}")
        raise HpoError(f"no trial completed ({counts[TrialState.PRUNED]} pruned)")
    pick = max if config["direction"] == "maximize" else min
    best = pick(complete, key=lambda t: t.value) if complete else None
    return HpoResult(
        best_number=best.number if best else None,
        best_params=dict(best.params) if best else {},
        best_value=best.value if best else None,
        metric=config["metric"],
        direction=config["direction"],
        n_complete=counts[TrialState.COMPLETE],
        n_pruned=counts[TrialState.PRUNED],
        n_failed=counts[TrialState.FAIL],
        stopped=False,
    )


def refit_best(
    config: dict, data: TabularData, storage: optuna.storages.BaseStorage, study_name: str
) -> dict:
    """Fit the best configuration on all search data; score it on the held-out test rows."""
    best = summarize(config, storage, study_name)
    if best.best_number is None:
        return {}
    search, test = _search_and_test(config, data)
    split = Split(search.X, search.y, test.X, test.y)
    value = _objective(config, best.best_params, [split], lambda step, value: None)
    return {"trial": best.best_number, "params": best.best_params,
            "test_metrics": {config["metric"]: value}, "test_rows": int(len(test.y))}


LOST = "The worker running this trial was lost."


def _number(record: dict) -> int:
    return record["number"]


def _counts(trial: optuna.trial.FrozenTrial) -> bool:
    return not trial.system_attrs.get("discarded", False)


def _heartbeat(storage: optuna.storages.BaseStorage, trial_id: int):
    """Record a heartbeat on the trial while it runs, so others can tell it is alive.

    Optuna's own heartbeat runs only inside study.optimize() and only on RDB storages;
    this one works with ask/tell on every storage.
    """

    def beat() -> bool:
        try:
            storage.set_trial_system_attr(trial_id, "heartbeat", time.time())
        except RuntimeError:
            return False  # the trial finished
        return True

    return beating(beat, HEARTBEAT_S, name=f"trial-heartbeat-{trial_id}")


def _add_warm_start(study: optuna.Study, space: dict, record: dict) -> None:
    """Add a finished trial of another job; one that does not fit this space is skipped."""
    try:
        study.add_trial(optuna.trial.create_trial(
            params=record["params"], distributions=distributions(space, record["params"]),
            values=record["values"],
        ))
    except (KeyError, ValueError, TypeError):
        pass


def _search_and_test(config: dict, data: TabularData) -> tuple[TabularData, TabularData]:
    split = holdout_split(data, TEST_SIZE, config["seed"])
    part = dict(feature_names=data.feature_names, task=data.task, target_name=data.target_name)
    return (TabularData(split.X_train, split.y_train, **part),
            TabularData(split.X_valid, split.y_valid, **part))


def _search_part(config: dict, data: TabularData) -> TabularData:
    return _search_and_test(config, data)[0]


def _make_splits(config: dict, data: TabularData) -> list[Split]:
    validation, seed = config["validation"], config["seed"]
    try:
        if validation["method"] == "cv":
            return kfold_splits(data, validation["folds"], seed)
        return [holdout_split(data, validation["test_size"], seed)]
    except ValueError as e:  # e.g. a class too rare to stratify
        raise HpoError(f"cannot split the data: {e}") from e


def _make_sampler(cfg: dict, n_previous: int) -> optuna.samplers.BaseSampler:
    seed = cfg["seed"]
    if seed is not None and n_previous:
        # A resumed run must not replay the random draws its first run already made.
        seed = (seed + n_previous) % 2**32
    if cfg["name"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # group=True lets multivariate TPE handle the conditional ("auto") spaces.
        multivariate = cfg["multivariate"]
        return optuna.samplers.TPESampler(seed=seed, multivariate=multivariate, group=multivariate)


def _make_pruner(cfg: dict) -> optuna.pruners.BasePruner:
    if cfg["name"] == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=5)
    return optuna.pruners.NopPruner()


def _add_previous(study: optuna.Study, space: dict, previous: list[dict]) -> None:
    for record in previous:
        if record["number"] != len(study.trials):
            # Numbers must line up with the platform's records, so fill gaps (trials
            # that were running when the worker died) with failed placeholders.
            for _ in range(record["number"] - len(study.trials)):
                study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
        params = record["params"]
        curve = record.get("intermediate_values") or {}
        try:
            study.add_trial(
                optuna.trial.create_trial(
                    state=_STATES[record["state"]],
                    values=record.get("values") if record["state"] == "complete" else None,
                    params=params,
                    distributions=distributions(space, params),
                    # Stores may keep JSON keys as strings and non-finite values as null.
                    intermediate_values={int(k): v for k, v in curve.items() if v is not None},
                    system_attrs={"error": record["error"]} if record.get("error") else None,
                )
            )
        except (KeyError, ValueError) as e:
            raise HpoError(f"previous trial {record['number']} does not fit: {e}") from e


def _run_trial(
    study: optuna.Study, trial: optuna.Trial, config: dict, splits: list[Split],
    reporter: Reporter,
) -> None:
    """Run one asked trial, and report and record how it ended."""
    params = suggest(trial, config["search_space"])
    reporter.trial_started(trial.number, params)
    curve: dict[int, float] = {}

    def report(step: int, value: float) -> None:
        curve[step] = value
        trial.report(value, step)
        reporter.trial_reported(trial.number, step, value)
        if trial.should_prune():
            raise optuna.TrialPruned()

    values, error = None, ""
    try:
        value = _objective(config, params, splits, report)
    except optuna.TrialPruned:
        state = "pruned"
    except Exception as e:  # any model error fails this trial only
        state, error = "failed", f"{type(e).__name__}: {e}"
        study._storage.set_trial_system_attr(trial._trial_id, "error", error)
    else:
        state, values = "complete", [value]
    study.tell(trial, values, state=_STATES[state])
    reporter.trial_finished(trial.number, state, params, values, curve, error)


def _objective(config: dict, params: dict, splits: list[Split], report: ReportFn) -> float:
    auto = config["model"] == "auto"
    name = params["model"] if auto else config["model"]
    own = family_params(params, name if auto else None)
    scores = [
        # Only the first fold reports per-epoch values: pruning compares like with like.
        FAMILIES[name].fit_score(
            own, split, config["task"], config["metric"], config["seed"],
            report if i == 0 else lambda step, value: None,
        )  # fmt: skip
        for i, split in enumerate(splits)
    ]
    value = float(np.mean(scores))
    if not math.isfinite(value):
        raise ValueError(f"metric is {value}")
    return value
