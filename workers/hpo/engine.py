"""Runs HPO jobs on Optuna studies, trial by trial (ask/tell), in one or many processes.

A job's study is created once (create_study), then any number of processes run trials on
it (run_trials) through shared storage; summarize and refit_best read the result. Before
any search, a seeded (stratified) test split of `test_size` is carved out of the data:
trials only ever see the rest, and only the refit best model is scored on the test rows.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import optuna
from optuna.study._multi_objective import _get_pareto_front_trials_by_trials
from optuna.trial import TrialState

from workers import failures
from workers.data.splits import Split, holdout_split, kfold_splits, stratified_sample
from workers.data.tabular import TabularData
from workers.hpo.config import ConfigError, HPOConfig, normalize_space
from workers.hpo.families import FAMILIES
from workers.hpo.frugal import search_share, starting_trials
from workers.hpo.metrics import METRICS, TASK_METRICS, needs_proba
from workers.hpo.objective import FE_PREFIX, fit, run_objective, score, trial_stop
from workers.hpo.pruners import build_pruner
from workers.hpo.samplers import SAMPLERS, build_sampler
from workers.hpo.space import distributions, grid_values, suggest
from workers.memory import memory_cap
from workers.reporter import Reporter, TrialRecord
from workers.studies import clock
from workers.studies.budget import RETRIED, STATES, Budget, Step, counts
from workers.studies.heartbeat import FAILURE_CLASS, OnLost
from workers.studies.storage import make_storage, study_id, trial_id
from workers.training.options import TrainerOptions
from workers.training.stopping import (
    DeadlineExceeded,
    HardStop,
    StopCheck,
    Stopped,
    Watchdog,
    wait_for_end,
)
from workers.trial_log import TrialLog, log_context

log = logging.getLogger(__name__)
WARM_STARTED = "warm_started"  # study system attr: how many finished trials warm start added
EXTRA_TRIALS = "extra_trials"  # study system attr: trials added to n_trials (re-runs)
# Trial user attr of a retry: {"of": the failed trial's number, "change": {name: [from,
# to]}, "params": what it runs with, "trainer": trainer options it changes, "generation":
# retries that led to it}. Its study params stay the failed trial's (inside the space, so
# the sampler can replay them); "params" may differ (a halved batch, a lower rate).
RETRY = "retry"
BUDGET_STARTED = "budget_started"  # study system attr: time_budget_s's clock (studies/clock.py)
FIT_S = "fit_s"  # trial system attr: seconds the trial's fits and scoring took (its cost)
# Study system attr: {"message", "failure_class"} of a job a hard stop ended (a watchdog
# ended a trial past the job's timeout_s, or a trial whose failure stops the job by its
# retry policy). Its process ended there and then; the runner that takes over reads why.
HARD_END = "hard_end"


@dataclass
class HpoResult:
    """A study's outcome, JSON-able through dataclasses.asdict.

    With several metrics best_* describe the Pareto-front trial that is best on the first
    metric (the one refit_best refits); best_trials holds the whole front.
    """

    best_number: int | None
    best_params: dict
    best_value: float | None
    metric: str | list[str]
    direction: str | list[str]
    n_complete: int
    n_pruned: int
    n_failed: int
    stopped: bool
    best_values: list[float] | None = None
    best_trials: list[dict] = field(default_factory=list)  # {"number", "params", "values"}
    importances: dict[str, float] = field(default_factory=dict)  # fANOVA, single metric
    # With a `model` choice (model: auto): each family's own parameters, within that family.
    importances_by_family: dict[str, dict[str, float]] = field(default_factory=dict)


class HpoError(Exception):
    """The job cannot produce a result (e.g. every trial failed)."""


class TrialsFailing(HpoError):
    """The job ended for its trials' failures: `after` of a class whose retry policy is
    "stop", or every trial; failure_class names that class (the most common one)."""

    def __init__(self, message: str, failure_class: str) -> None:
        super().__init__(message)
        self.failure_class = failure_class


# --- the study's lifecycle


def create_study(
    config: HPOConfig, storage: optuna.storages.BaseStorage, study_name: str
) -> optuna.Study:
    """Create the job's study once (idempotent), seeded with any warm-start trials.

    Warm-start trials with values are added as finished trials (they inform the sampler
    and do not count against n_trials); those without values are enqueued and run first.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=config.directions,
        load_if_exists=True,
    )
    if WARM_STARTED in storage.get_study_system_attrs(study_id(study)):
        if config.time_budget_s is not None:  # resumed: the budget runs on, pause left out
            clock.start(storage, study_id(study), BUDGET_STARTED)
        return study  # created (and warm-started) before
    added = 0
    for record in (config.warm_start or {}).get("trials", []):
        added += _add_warm_start(study, config.search_space, record)
    if config.time_budget_s is not None:
        # The budget runs from here (a worker creates the study when the job starts).
        clock.start(storage, study_id(study), BUDGET_STARTED)
        for params in starting_trials(config.search_space):  # cheap families first
            study.enqueue_trial(params, skip_if_exists=True)
    storage.set_study_system_attr(study_id(study), WARM_STARTED, added)
    return study


def run_hpo(config: HPOConfig, data: TabularData, reporter: Reporter) -> HpoResult:
    """Run a whole study in this process, in memory (tests, benchmarks)."""
    storage = make_storage(None)
    create_study(config, storage, "local")
    stopped = run_trials(config, data, reporter, storage, "local")
    result = summarize(config, storage, "local", allow_empty=stopped)
    result.stopped = stopped
    return result


def run_trials(
    config: HPOConfig,
    data: TabularData,
    reporter: Reporter,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    *,
    runner: int = 0,
    stale_after_s: float = 60.0,
    max_trial_s: float | None = None,
    hard_stop: HardStop | None = None,
) -> bool:
    """Run trials on a shared study until its budget is spent; True if reporter stopped it.

    Several processes may run this on one study at once. The budget (studies.budget) is
    n_trials trials that run to the end, not counting those added by warm start: a trial
    failed as lost (its worker died) does not count, and is replaced. Every
    stale_after_s / 4 the running trials whose heartbeat is older than stale_after_s are
    failed so.

    ask() numbers are dense across every runner, so a number below W + n_trials (W: the
    warm-start trials added at creation) has a place without reading the study. Near
    that end (where each of the job's `parallelism` runners may ask once more) the study
    is read before asking.

    Also stops at timeout_s (measured from this call, checked between trials), after
    `patience` finished trials without a new best, or when a grid is exhausted.

    A trial stops by itself (StopCheck) at cancel, trial_timeout_s, max_trial_s (the
    platform's longest trial) or, once this runner has run one, the job's timeout_s. With
    a hard_stop, a trial that does not (one long call that checks nothing) is recorded
    failed by a watchdog, which then ends this process (training.stopping.Watchdog); the
    runner that takes over goes on with the next trial, or ends the job as HARD_END says.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if config.task != data.task:
        raise HpoError(f"config is for {config.task} but the dataset is {data.task}")
    _check_inputs(config, data)
    spaces = _spaces(config, data)
    search = search_and_test(config, data)[0]
    splits = trial_splits(config, stratified_sample(search, config.trial_rows, config.seed))
    study_id = storage.get_study_id_from_name(study_name)
    attrs = storage.get_study_system_attrs(study_id)
    if ended := attrs.get(HARD_END):
        if ended["failure_class"] is not None:
            raise TrialsFailing(ended["message"], ended["failure_class"])
        return False  # past the job's timeout_s: its budget ends here
    warm_started = attrs.get(WARM_STARTED, 0)
    n_trials = config.n_trials + attrs.get(EXTRA_TRIALS, 0)
    existing = len(storage.get_all_trials(study_id, deepcopy=False))
    grid = _grid(config, spaces)
    sampler = build_sampler(config.sampler, _seed(config, existing + 1000 * runner), grid)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=build_pruner(config.pruner)
    )
    budget = Budget(
        study,
        storage,
        n_trials,
        lambda t: not _warm(t),
        stale_after_s,
        on_lost=_retry_lost(config, study),
    )
    sampler_spec = SAMPLERS[config.sampler.name]
    timeout_s, started, ran = config.timeout_s, time.monotonic(), 0
    budget_end = search_deadline(config, attrs)
    next_reap, next_number = 0.0, existing  # no smaller number is still to be handed out
    near_end = warm_started + n_trials - config.parallelism + 1

    def progress(trials_done: float) -> float:
        # Trials asked so far by every runner: close enough to finished for a progress bar.
        fraction = (trials_done - warm_started) / n_trials
        if timeout_s is not None:
            fraction = max(fraction, (time.monotonic() - started) / timeout_s)
        if budget_end is not None:
            fraction = max(fraction, budget_fraction(config, attrs))
        return min(1.0, fraction)

    with Watchdog(hard_stop) as watchdog:
        while True:
            if reporter.should_stop():
                return True
            if reporter.should_pause():  # the trials running elsewhere end; none starts
                return False
            # Like Optuna's own timeout, checked between trials (and inside trials: stop).
            if ran and timeout_s is not None and time.monotonic() - started >= timeout_s:
                return False
            if ran and budget_end is not None and time.monotonic() >= budget_end:
                return False
            # Reading the whole study costs O(trials) on every storage, so the per-trial path
            # reads none of it until near the budget's end: stale trials are reaped on a timer.
            if time.monotonic() >= next_reap:
                budget.reap()
                next_reap = time.monotonic() + stale_after_s / 4
            if config.patience and _out_of_patience(
                config, [t for t in study.get_trials(deepcopy=False) if counts(t)]
            ):
                return False
            if sampler_spec.exhausted(sampler, study):
                return False
            if next_number >= near_end:
                step = budget.next_step(budget.read()[0])
                if step is Step.DONE:
                    return False
                if step is Step.WAIT:
                    time.sleep(min(1.0, stale_after_s / 4))
                    continue
            asked = budget.ask(sure_below=warm_started + n_trials)
            next_number = max(next_number, budget.last_asked + 1)
            if asked is None:
                continue
            trial = asked[0]
            with budget.running(trial):
                # The job's timeout reaches inside a trial once this runner has run one, as
                # between trials: a first trial is bounded by trial_timeout_s alone.
                job_deadline = started + timeout_s if ran and timeout_s is not None else None
                # The time budget cuts a trial running past it, but not a runner's first:
                # a job that ends without one finished trial has no model at all.
                if budget_end is not None and ran:
                    job_deadline = min(budget_end, job_deadline or budget_end)
                _run_trial(
                    budget,
                    trial,
                    config,
                    spaces,
                    splits,
                    reporter,
                    data,
                    trial_stop(config, reporter.should_stop, job_deadline, max_trial_s),
                    watchdog,
                    partial(_trial_progress, reporter, progress, trial.number),
                )
            ran += 1
            reporter.progress(progress(trial.number + 1))


def search_deadline(config: HPOConfig, attrs: dict) -> float | None:
    """The time.monotonic() at which a time-budgeted search stops asking for trials (its
    share of the budget, workers/hpo/frugal.py); None without a budget."""
    if config.time_budget_s is None or BUDGET_STARTED not in attrs:
        return None
    share = config.time_budget_s * search_share(config.ensemble.enabled)
    return time.monotonic() + clock.started(attrs, BUDGET_STARTED) + share - time.time()


def budget_fraction(config: HPOConfig, attrs: dict) -> float:
    """The share of the time budget used so far (0 without a budget)."""
    if config.time_budget_s is None or BUDGET_STARTED not in attrs:
        return 0.0
    return (time.time() - clock.started(attrs, BUDGET_STARTED)) / config.time_budget_s


def budget_deadline(
    config: HPOConfig, storage: optuna.storages.BaseStorage, study_name: str
) -> float | None:
    """The time.monotonic() at which the whole time budget ends (None without one): what
    ensembling after the search keeps within."""
    if config.time_budget_s is None:
        return None
    attrs = storage.get_study_system_attrs(storage.get_study_id_from_name(study_name))
    return time.monotonic() + (1 - budget_fraction(config, attrs)) * config.time_budget_s


def budget_used(
    config: HPOConfig, storage: optuna.storages.BaseStorage, study_name: str
) -> dict | None:
    """{"time_budget_s", "used_s"} of a time-budgeted job so far; None without a budget."""
    if config.time_budget_s is None:
        return None
    attrs = storage.get_study_system_attrs(storage.get_study_id_from_name(study_name))
    used = budget_fraction(config, attrs) * config.time_budget_s
    return {"time_budget_s": config.time_budget_s, "used_s": round(used, 3)}


def rerun_trials(
    storage: optuna.storages.BaseStorage, study_name: str, reruns: dict[int, dict]
) -> None:
    """Enqueue a new trial for each failed trial number -> the params it ran with, linked
    to it (retry_of), and grow the budget by as many: the failed ones keep their places.
    Its own retry policy applies to each afresh."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    failed = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    for number, params in reruns.items():
        planned = failures.Retry(dict(params), {})
        _enqueue_retry(study, failed[number].params, number, planned, {})  # KeyError: not failed
    extend_budget(storage, study_name, len(reruns))


def stop_budget(storage: optuna.storages.BaseStorage, study_name: str) -> None:
    """The job paused or finished: its time budget does not run until it is resumed or
    extended."""
    clock.stop(storage, storage.get_study_id_from_name(study_name), BUDGET_STARTED)


def extend_budget(storage: optuna.storages.BaseStorage, study_name: str, n_trials: int) -> None:
    """n_trials more trials for the study's budget (read when its runners start)."""
    sid = storage.get_study_id_from_name(study_name)
    extra = storage.get_study_system_attrs(sid).get(EXTRA_TRIALS, 0)
    storage.set_study_system_attr(sid, EXTRA_TRIALS, extra + n_trials)
    storage.set_study_system_attr(sid, HARD_END, None)  # the job runs on from here


def summarize(
    config: HPOConfig,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    *,
    allow_empty: bool = False,
    exclude: Collection[int] = (),
) -> HpoResult:
    """Counts, the best trial (or Pareto front) and param importances of the study.

    Counts are of the trials this job ran: warm-start trials with values and discarded
    ones are left out. The trials numbered in `exclude` (a user excluded them) still count,
    but the best trial and the importances are chosen without them. HpoError if no trial
    completed, unless allow_empty.
    """
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = [t for t in study.get_trials(deepcopy=False) if counts(t)]
    ran = [t for t in trials if not _warm(t)]
    tally = {state: sum(t.state == state for t in ran) for state in STATES.values()}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if exclude:
        complete = [t for t in complete if t.number not in set(exclude)]
        study = _only(study, complete)  # what importances read; numbers are not kept
    if not complete and not allow_empty:
        if tally[TrialState.FAIL] == len(ran):
            first = next(
                (t.system_attrs["error"] for t in ran if "error" in t.system_attrs), "unknown"
            )
            classes = Counter(t.system_attrs.get(FAILURE_CLASS, failures.BUG) for t in ran)
            raise TrialsFailing(
                f"all {len(ran)} trials failed; first error: {first}",
                classes.most_common(1)[0][0] if classes else failures.BUG,
            )
        raise HpoError(f"no trial completed ({tally[TrialState.PRUNED]} pruned)")
    front = _front(study, complete)
    best = front[0] if front else None
    multi = len(study.directions) > 1
    return HpoResult(
        best_number=best.number if best else None,
        best_params=dict(best.params) if best else {},
        best_value=best.values[0] if best else None,
        metric=config.metric,
        direction=config.direction,
        n_complete=tally[TrialState.COMPLETE],
        n_pruned=tally[TrialState.PRUNED],
        n_failed=tally[TrialState.FAIL],
        stopped=False,
        best_values=list(best.values) if best else None,
        best_trials=[
            {"number": t.number, "params": dict(t.params), "values": list(t.values)} for t in front
        ],
        importances={} if multi else _importances(study, complete, config.seed),
        importances_by_family={} if multi else _family_importances(study, complete, config),
    )


def refit_best(
    config: HPOConfig,
    data: TabularData,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    directory: Path | None = None,
    exclude: Collection[int] = (),
) -> dict:
    """Fit the best configuration (not one numbered in `exclude`) on all search rows; score
    it on the held-out test rows.

    The model (and the data set's fitted preprocessing, if any) is saved into `directory`
    when one is given. Returns {} if no trial completed.
    """
    best = summarize(config, storage, study_name, allow_empty=True, exclude=exclude)
    if best.best_number is None:
        return {}
    search, test = search_and_test(config, data)
    fitted = fit(
        config,
        best.best_params,
        search.X,
        search.y,
        make_transformer=make_transformer(data),
        proba=needs_proba(config.objectives),
    )
    test_metrics = score(fitted, test_metric_names(config, fitted.model), test.X, test.y)
    files: list[str] = []
    if directory is not None:
        files = _save(fitted, Path(directory), config, best, search)
    return {
        "trial": best.best_number,
        "family": fitted.family,
        "params": best.best_params,
        "test_metrics": test_metrics,
        "test_rows": int(len(test.y)),
        # Trials searched a sample of the search rows (trial_rows); the refit fits them all.
        "fit_rows": int(len(search.y)),
        "trial_rows": int(min(len(search.y), config.trial_rows or len(search.y))),
        "files": files,
    }


def test_metric_names(config: HPOConfig, model: object) -> list[str]:
    """The metrics a refit model is scored on: the job's, then every other one of the task
    the model allows (some have no probabilities)."""
    return [
        name
        for name in dict.fromkeys([*config.objectives, *TASK_METRICS[config.task]])
        if name != "latency_ms"
        and (METRICS[name].needs != "proba" or hasattr(model, "predict_proba"))
    ]


def ranked_trials(
    config: HPOConfig,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    exclude: Collection[int] = (),
) -> list[optuna.trial.FrozenTrial]:
    """The completed trials (not those numbered in `exclude`), best first on the first
    metric; ties go to the earlier trial."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    sign = 1.0 if config.directions[0] == "maximize" else -1.0
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if counts(t) and t.number not in set(exclude)
    ]
    return sorted(complete, key=lambda t: (-sign * t.values[0], t.number))


# --- helpers


def _warm(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.system_attrs.get("warm_start", False))


def _seed(config: HPOConfig, offset: int) -> int:
    # Each runner and each resumption draws its own sequence from the job's seed, so a
    # resumed run does not replay the draws its first run already made.
    seed = config.sampler.seed
    return ((config.seed if seed is None else seed) + offset) % 2**32


def make_transformer(data: TabularData):
    """The data set's preprocessing factory (fe params -> unfitted transformer), or None."""
    return getattr(data, "make_transformer", None)


def _spaces(config: HPOConfig, data: TabularData) -> tuple[dict, dict]:
    """The config's search space and the data set's feature-engineering space (params
    named "fe.<name>"; TabularData.feature_space may spell its keys with or without "fe.").
    """
    feature_space = getattr(data, "feature_space", None) or {}
    bare = {k.removeprefix(FE_PREFIX): v for k, v in feature_space.items()}
    try:
        return config.search_space, normalize_space(bare, "feature_space")
    except ConfigError as e:
        raise HpoError(f"the data set's feature space is invalid: {e}") from e


def _suggest(trial: optuna.Trial, spaces: tuple[dict, dict]) -> dict:
    return {**suggest(trial, spaces[0]), **suggest(trial, spaces[1], FE_PREFIX)}


def _grid(config: HPOConfig, spaces: tuple[dict, dict]) -> dict[str, list]:
    """Every flat param's values, for a sampler that walks a grid."""
    if not SAMPLERS[config.sampler.name].finite_space:
        return {}
    values, problems = grid_values(spaces[0])
    fe_values, fe_problems = grid_values(spaces[1], "feature_space", FE_PREFIX)
    if problems or fe_problems:
        raise HpoError(f"the grid sampler needs a finite space: {problems | fe_problems}")
    return values | fe_values


def _check_inputs(config: HPOConfig, data: TabularData) -> None:
    images = np.ndim(data.X) == 4
    names = config.search_space["model"]["choices"] if config.model == "auto" else [config.model]
    for name in names:
        if (FAMILIES[name].inputs == "image") != images:
            kind = "images (N x C x H x W)" if images else "a table"
            raise HpoError(f"model family {name!r} cannot learn from {kind}")


def search_and_test(config: HPOConfig, data: TabularData) -> tuple[TabularData, TabularData]:
    """(search rows, held-out test rows): the seeded split every part of a job shares."""
    try:
        split = holdout_split(data, config.test_size, config.seed)
    except ValueError as e:  # e.g. a class too rare to stratify
        raise HpoError(f"cannot hold out a test split: {e}") from e
    return (
        dataclasses.replace(data, X=split.X_train, y=split.y_train),
        dataclasses.replace(data, X=split.X_valid, y=split.y_valid),
    )


def trial_splits(config: HPOConfig, data: TabularData) -> list[Split]:
    """The validation splits trials are scored on (one holdout, or k folds)."""
    validation, seed = config.validation, config.seed
    try:
        if validation.method == "cv":
            return kfold_splits(data, validation.folds, seed)
        return [holdout_split(data, validation.test_size, seed)]
    except ValueError as e:
        raise HpoError(f"cannot split the data: {e}") from e


def _out_of_patience(config: HPOConfig, trials: list[optuna.trial.FrozenTrial]) -> bool:
    """True once `patience` trials have finished since the last new best value."""
    patience = config.patience
    if not patience:
        return False
    sign = 1.0 if config.directions[0] == "maximize" else -1.0
    best, since = -np.inf, 0
    for trial in sorted(trials, key=lambda t: t.number):
        if not trial.state.is_finished():
            continue
        if trial.state == TrialState.COMPLETE and sign * trial.values[0] > best:
            best, since = sign * trial.values[0], 0
        else:
            since += 1
    return since >= patience


def _only(study: optuna.Study, trials: list) -> optuna.Study:
    """An in-memory study of these trials (renumbered from 0)."""
    kept = optuna.create_study(directions=study.directions)
    kept.add_trials(trials)
    return kept


def _front(study: optuna.Study, complete: list) -> list[optuna.trial.FrozenTrial]:
    """The best trial, or the Pareto front sorted best-first on the first metric."""
    if not complete:
        return []
    sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
    if len(study.directions) == 1:
        return [max(complete, key=lambda t: (sign * t.values[0], -t.number))]
    # Optuna's own front (private: study.best_trials reads every trial, excluded included).
    front = _get_pareto_front_trials_by_trials(complete, study.directions)
    return sorted(front, key=lambda t: (-sign * t.values[0], t.number))


def _importances(
    study: optuna.Study, complete: list, seed: int, params: list[str] | None = None
) -> dict[str, float]:
    if len(complete) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(
                study, evaluator=evaluator, params=params
            )
    except (RuntimeError, ValueError):  # e.g. no parameter shared by every trial
        return {}
    return {name: float(value) for name, value in found.items()}


def _family_importances(study: optuna.Study, complete: list, config: HPOConfig) -> dict:
    """fANOVA within each model family of a `model` choice: the study-wide importances can
    only weigh parameters every trial has, which under model: auto is `model` alone."""
    families: dict[str, list] = {}
    for trial in complete:
        if "model" in trial.params:
            families.setdefault(trial.params["model"], []).append(trial)
    out = {}
    for family, trials in sorted(families.items()):
        own = set.intersection(*(set(t.params) for t in trials)) - {"model"}
        if len(trials) < 2 or not own:
            continue
        sub = optuna.create_study(directions=study.directions)
        sub.add_trials(trials)
        if found := _importances(sub, trials, config.seed, sorted(own)):
            out[family] = found
    return out


def _add_warm_start(study: optuna.Study, space: dict, record: dict) -> int:
    """Add (values) or enqueue (no values) a trial of another job; 1 if added.

    A trial that does not fit this space is skipped.
    """
    params = record["params"]
    try:
        if record.get("values") is None:
            study.enqueue_trial(params, skip_if_exists=True)
            return 0
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions(space, params),
                values=record["values"],
                system_attrs={"warm_start": True},
            )
        )
    except (KeyError, ValueError, TypeError):
        return 0
    return 1


def _run_trial(
    budget: Budget,
    trial: optuna.Trial,
    config: HPOConfig,
    spaces: tuple[dict, dict],
    splits: list[Split],
    reporter: Reporter,
    data: TabularData,
    stop: StopCheck,
    watchdog: Watchdog,
    on_progress: Callable[[float], None],
) -> None:
    """Run one asked trial (or a retry of a failed one), capturing its output; record how
    it ended; after a failure, act on its class's retry policy (workers.failures). The
    watchdog ends a trial that outlives `stop`: then it records it (in its own thread).
    on_progress(share of the trial done) as it trains."""
    retry = trial.user_attrs.get(RETRY) or {}
    suggested = _suggest(trial, spaces)  # a retry's: the failed trial's, enqueued
    params = retry.get("params") or suggested
    trainer = {**asdict(config.trainer), **retry.get("trainer", {})}
    run_config = dataclasses.replace(config, trainer=TrainerOptions(**trainer))
    reporter.trial_started(trial.number, params)
    curve: dict[int, float] = {}
    single = len(budget.study.directions) == 1

    def report(step: int, value: float) -> None:
        curve[step] = value
        reporter.trial_reported(trial.number, step, value)
        if single:  # Optuna prunes single-objective studies only
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

    output = TrialLog()
    began = time.monotonic()
    ended = _Ended(budget, trial, config, reporter, params, trainer, retry, curve, output, began)

    def end_stuck(stopped: Stopped) -> None:
        """The watchdog's record of a trial it ends (the process ends next)."""
        log.warning("trial %s ended by its hard limit: %s", trial.number, stopped)
        stop_job = ended.record("failed", None, stopped)
        if stop_job is not None:
            why = {"message": str(stop_job), "failure_class": stop_job.failure_class}
        elif stop.ends_job and isinstance(stopped, DeadlineExceeded):
            why = {"message": str(stopped), "failure_class": None}
        else:
            return  # the next trial runs (or a cancel ends the job)
        budget.storage.set_study_system_attr(budget.study_id, HARD_END, why)

    values, state, error = None, "failed", None
    with (
        log_context(trial=trial.number),
        output.capture(),
        watchdog.watching(stop, end_stuck) as watch,
    ):
        try:
            with memory_cap(config.trial_memory_mb):
                values = run_objective(
                    run_config,
                    params,
                    splits,
                    report,
                    stop=stop,
                    make_transformer=make_transformer(data),
                    on_progress=on_progress,
                )
            state = "complete"
        except optuna.TrialPruned:
            state = "pruned"
        except Exception as e:  # a model error, a deadline or a cancel (Stopped) ends this trial
            error = e
            log.warning("failed (%s)", failures.classify(e), exc_info=True)  # ids: log_context
        if not watch.claim():
            wait_for_end()  # the watchdog records this trial and ends the process
    stop_job = ended.record(state, values, error)
    if stop_job is not None:
        raise stop_job


@dataclass
class _Ended:
    """Records how one trial ended, from the thread that runs it or from its watchdog."""

    budget: Budget
    trial: optuna.Trial
    config: HPOConfig
    reporter: Reporter
    params: dict
    trainer: dict  # the trainer options it ran with
    retry: dict  # its RETRY user attr ({} for an original)
    curve: dict[int, float]
    output: TrialLog
    began: float  # time.monotonic() as it started

    def record(
        self, state: str, values: list[float] | None, exc: Exception | None
    ) -> TrialsFailing | None:
        """Tell the study and the reporter; enqueue a retry the failure's policy asks for.
        Returns the error that stops the job if its policy says so (the caller raises it)."""
        budget, trial, retry, params = self.budget, self.trial, self.retry, self.params
        error = f"{type(exc).__name__}: {exc}" if exc is not None else ""
        failure = failures.classify(exc) if exc is not None else ""
        attrs: dict = {FIT_S: round(time.monotonic() - self.began, 4)}
        if failure:
            attrs[FAILURE_CLASS] = failure
        stop = None
        if failure:
            policy = _policies(self.config)[failure]
            planned = failures.plan_retry(policy, params, self.trainer, retry.get("generation", 0))
            if planned is not None:
                # Marked before the retry exists: no runner sees both holding a place.
                budget.storage.set_trial_system_attr(trial_id(trial), RETRIED, True)
                _enqueue_retry(budget.study, trial.params, trial.number, planned, retry)
            elif policy["action"] == failures.STOP:
                stop = _stop_if_due(budget, failure, policy["after"], error)
        budget.tell(trial, state, values, error, attrs)
        if state == "pruned" and self.curve:
            # Optuna keeps a pruned trial's last intermediate value as its value; so do we.
            values = [self.curve[max(self.curve)]]
        log_text = self.output.so_far()
        record = TrialRecord(failure, retry.get("of"), retry.get("change") or {}, log_text)
        self.reporter.trial_record(trial.number, record)
        self.reporter.trial_finished(trial.number, state, params, values, self.curve, error)
        return stop


def _trial_progress(
    reporter: Reporter, progress: Callable[[float], float], number: int, share: float
) -> None:
    """Report the job's progress within trial `number`, `share` of it done. Never 1.0 (a
    timeout_s may be past): the trial's end is reported once it is recorded."""
    fraction = progress(number + share)
    if share < 1.0 and fraction < 1.0:
        reporter.progress(fraction)


def _policies(config: HPOConfig) -> dict[str, dict]:
    """Retry policy per failure class (configs stored before `retry` get the defaults)."""
    return {**failures.default_policies(), **(config.retry or {})}


def _enqueue_retry(
    study: optuna.Study,
    study_params: dict,
    number: int,
    planned: failures.Retry,
    retry: dict,
) -> None:
    """Enqueue the retry of failed trial `number` (itself a retry if `retry` is set)."""
    trainer = {**retry.get("trainer", {}), **failures.trainer_changes(planned.change)}
    study.enqueue_trial(
        study_params,
        user_attrs={
            RETRY: {
                "of": number,
                "change": planned.change,
                "params": planned.params,
                "trainer": trainer,
                "generation": retry.get("generation", 0) + 1,
            }
        },
    )


def _retry_lost(config: HPOConfig, study: optuna.Study) -> OnLost:
    """What a runner does with a trial it fails as lost: the infrastructure policy."""
    policy = _policies(config)[failures.INFRASTRUCTURE]

    def on_lost(trial: optuna.trial.FrozenTrial) -> dict:
        retry = trial.user_attrs.get(RETRY) or {}
        trainer = {**asdict(config.trainer), **retry.get("trainer", {})}
        params = retry.get("params") or trial.params
        planned = failures.plan_retry(policy, params, trainer, retry.get("generation", 0))
        if planned is None:
            return {}
        _enqueue_retry(study, trial.params, trial.number, planned, retry)
        return {RETRIED: True}

    return on_lost


def _stop_if_due(budget: Budget, failure: str, after: int, error: str) -> TrialsFailing | None:
    """The error that stops the job once `after` trials failed with `failure` (this one
    included), naming the class and the first such error."""
    earlier = [
        t
        for t in budget.storage.get_all_trials(
            budget.study_id, deepcopy=False, states=(TrialState.FAIL,)
        )
        if t.system_attrs.get(FAILURE_CLASS) == failure
    ]
    if len(earlier) + 1 < after:
        return None
    first = min(earlier, key=lambda t: t.number).system_attrs.get("error") if earlier else error
    label = failures.LABELS[failure]
    return TrialsFailing(
        f"stopped after {len(earlier) + 1} trials failed with {label} "
        f"(retry.{failure}.after = {after}); the first: {first}",
        failure,
    )


def _save(
    fitted, directory: Path, config: HPOConfig, best: HpoResult, search: TabularData
) -> list[str]:
    return save_job_model(
        fitted.model,
        directory,
        config,
        search,
        family=fitted.family,
        transformer=fitted.transformer,
        params=fitted.params,
        trial=best.best_number,
    )


def save_job_model(
    model: object,
    directory: Path,
    config: HPOConfig,
    search: TabularData,
    *,
    family: str,
    transformer: object = None,
    **spec: object,
) -> list[str]:
    """A model the job fitted on its search rows, with its preprocessing (if any) and what
    serving and drift checks need: the raw input columns in order, the labels of the
    encoded classes, and reference statistics of the training rows. `spec`: keys the
    model's spec.json adds (params, trial, kind...)."""
    from workers.models.artifacts import data_spec, save_version

    full = {
        "task": config.task,
        **spec,
        **data_spec(
            search.feature_names,
            search.classes,
            target=search.target_name,
            dropped=(search.preprocessing or {}).get("drop"),
        ),
    }
    return save_version(
        model, directory, family=family, spec=full, transformer=transformer, rows=search.X
    )
