"""Why a trial failed, and what a job does about it: the failure classes and retry policies.

`classify` names the class of a failure from the exception (and everything it was raised
from) or from the process's fate (a trial whose worker stopped beating was lost). It reads
exception *type names* and messages only, so it imports neither torch, sklearn, Celery nor
Django, and recognises their errors all the same:

| class          | what raised it                                                          |
| -------------- | ----------------------------------------------------------------------- |
| oom            | MemoryError (numpy's allocation failure too), torch's OutOfMemoryError  |
| numerical      | NumericalError (a NaN/inf loss or metric), FloatingPointError, NaN       |
|                | predictions refused by a metric                                         |
| time_limit     | DeadlineExceeded (trial_timeout_s, timeout_s), Celery's time limits     |
| invalid_config | ConfigError, sklearn's InvalidParameterError, a bad keyword argument    |
| data           | unreadable or inconsistent rows: a text cell in a numeric column,       |
|                | NaN in X or y, too few rows of a class, an unknown column               |
| infrastructure | the worker was lost; the database, broker or storage went away          |
| cancelled      | the user cancelled the job (not a failure of the trial's own)           |
| bug            | anything else: our code or a library's, worth a report                  |

A job's `retry` config says, per class, what happens next (RetryPolicy). Retries are new
trials linked to the failed one (`retry_of`); the failed one then gives up its place in
the budget, so a retried trial never counts twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

OOM = "oom"
NUMERICAL = "numerical"
TIME_LIMIT = "time_limit"
INVALID_CONFIG = "invalid_config"
DATA = "data"
INFRASTRUCTURE = "infrastructure"
CANCELLED = "cancelled"
BUG = "bug"

LABELS = {
    OOM: "out of memory",
    NUMERICAL: "numerical (NaN or inf)",
    TIME_LIMIT: "time limit",
    INVALID_CONFIG: "invalid configuration",
    DATA: "data error",
    INFRASTRUCTURE: "infrastructure",
    CANCELLED: "cancelled",
    BUG: "bug",
}
CLASSES = tuple(LABELS)
# What a user can do about a failure of each class: shown beside it on the job page.
ADVICE = {
    OOM: "Shrink what grows memory (batch size, hidden units, trees, or rows per trial with "
    "trial_rows), run fewer trials at once (parallelism), or set trial_memory_mb so that "
    "one trial fails instead of the worker.",
    NUMERICAL: "The training diverged: lower the learning-rate range, clip gradients "
    "(trainer.clip_norm), or scale the features (scaling: standard).",
    TIME_LIMIT: "Raise the time limit (timeout_s, or trial_timeout_s for one trial), or give "
    "each trial less to do (fewer epochs, trial_rows).",
    INVALID_CONFIG: "The model refused a combination of parameters: narrow the search space "
    "to leave it out; the trial's log names it.",
    DATA: "Check the data set's page: the target column, missing values, classes with very "
    "few rows. Fix the file and upload it again, or choose another target.",
    INFRASTRUCTURE: "A worker, the database or the queue went away: run it again. If it "
    "repeats, staff can see the workers on the Monitoring page.",
    CANCELLED: "It was cancelled on request: Run again to start over.",
    BUG: "An error in the platform itself: run it again, and if it repeats, report it with "
    "the log of a failed trial.",
}


class NumericalError(FloatingPointError):
    """A loss or metric became NaN or infinite (a diverged run)."""


# (class, exception type names, message patterns), tried in this order on every exception
# of the chain, innermost first: the first that matches names the class.
_RULES: list[tuple[str, frozenset[str], re.Pattern[str] | None]] = [
    (CANCELLED, frozenset({"Cancelled"}), None),
    (
        TIME_LIMIT,
        frozenset({"DeadlineExceeded", "SoftTimeLimitExceeded", "TimeLimitExceeded"}),
        None,
    ),
    (
        OOM,
        frozenset({"MemoryError", "_ArrayMemoryError", "OutOfMemoryError"}),
        re.compile(r"out of memory|bad_alloc|Unable to allocate|can't allocate memory", re.I),
    ),
    # sklearn names what holds the NaN: X or y is the data's fault, a prediction the model's.
    (DATA, frozenset(), re.compile(r"Input (X|y|y_true) contains (NaN|infinity)", re.I)),
    (
        NUMERICAL,
        frozenset({"NumericalError", "FloatingPointError"}),
        re.compile(r"contains NaN|contains infinity|non-?finite|\bnan\b loss", re.I),
    ),
    (
        INVALID_CONFIG,
        frozenset({"ConfigError", "InvalidParameterError", "DataConfigError"}),
        re.compile(r"unexpected keyword argument|invalid (parameter|value) for", re.I),
    ),
    (
        DATA,
        frozenset({"DataFileError", "ArrowInvalid", "UnicodeDecodeError", "ParserError"}),
        re.compile(
            r"could not convert|inconsistent numbers of samples|least populated class"
            r"|needs samples of at least 2 classes|unknown categor|not in index|no such column",
            re.I,
        ),
    ),
    (
        INFRASTRUCTURE,
        frozenset(
            {
                "OperationalError",
                "InterfaceError",
                "StorageInternalError",
                "ConnectionError",
                "ConnectionRefusedError",
                "ConnectionResetError",
                "BrokenPipeError",
                "WorkerLostError",
                "TimeoutError",
            }
        ),
        re.compile(r"worker .*(lost|exited)|connection (refused|reset|closed)", re.I),
    ),
]


def classify(exc: BaseException | None = None, *, lost: bool = False) -> str:
    """The failure class of a trial that raised `exc`, or whose worker was `lost`."""
    if lost:
        return INFRASTRUCTURE
    if exc is None:
        return BUG
    chain = list(_chain(exc))
    for cls, names, pattern in _RULES:
        for e in chain:
            types = {t.__name__ for t in type(e).__mro__}
            if types & names or (pattern is not None and pattern.search(str(e))):
                return cls
    return BUG


def classify_text(error: str, *, lost: bool = False) -> str:
    """The class of a failure known only by its recorded text, "TypeName: message" (as
    engines record errors), where the exception itself is gone."""
    name, sep, message = error.partition(": ")
    if not sep or not name.isidentifier():
        name, message = "Exception", error
    return classify(type(name, (Exception,), {})(message), lost=lost)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what it was raised from or during, once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# --- retry policies

RERUN = "rerun"  # the same parameters again
SMALLER = "smaller"  # the same parameters with half the batch (or processes)
LOWER_LR = "lower_lr"  # the same parameters with a tenth of the learning rate
STOP = "stop"  # fail the job once `after` trials of the class failed
NONE = "none"  # keep the failure; the sampler moves on

ACTIONS = {  # class -> the actions it may take, its default first
    INFRASTRUCTURE: (RERUN, NONE, STOP),
    OOM: (SMALLER, RERUN, NONE, STOP),
    NUMERICAL: (LOWER_LR, NONE, STOP),
    TIME_LIMIT: (NONE, STOP),
    INVALID_CONFIG: (STOP, NONE),
    DATA: (STOP, NONE),
    BUG: (NONE, RERUN, STOP),
    CANCELLED: (NONE,),
}
DEFAULT_ATTEMPTS = {INFRASTRUCTURE: 2, OOM: 2, NUMERICAL: 1}  # the others: 1
DEFAULT_AFTER = {INVALID_CONFIG: 3, DATA: 1}  # the others: 3
MAX_ATTEMPTS = 5
MAX_AFTER = 1000
LR_KEYS = ("lr", "learning_rate", "learning_rate_init")  # the families' learning rates
LR_FACTOR = 0.1
MIN_BATCH = 2


@dataclass(frozen=True)
class RetryPolicy:
    """What follows a failure of one class.

    action: one of ACTIONS[class].
    attempts: retries of one trial, all generations together (rerun, smaller, lower_lr).
    after: with "stop", the number of the class's failures that fails the job.
    """

    action: str
    attempts: int = 1
    after: int = 3


def default_policies() -> dict[str, dict]:
    return {
        cls: asdict(
            RetryPolicy(actions[0], DEFAULT_ATTEMPTS.get(cls, 1), DEFAULT_AFTER.get(cls, 3))
        )
        for cls, actions in ACTIONS.items()
    }


def validate_retry(raw: object, add_error) -> dict:
    """A config's `retry` block with every class's defaults filled in; problems go to
    add_error(path, message). {class: {"action", "attempts", "after"}}."""
    policies = default_policies()
    if raw is None:
        return policies
    if not isinstance(raw, dict):
        add_error("retry", "must be an object of failure class -> policy")
        return policies
    for cls, given in raw.items():
        path = f"retry.{cls}"
        if cls not in ACTIONS:
            add_error(path, f"unknown failure class; expected one of {', '.join(ACTIONS)}")
            continue
        if isinstance(given, str):  # shorthand: just the action
            given = {"action": given}
        if not isinstance(given, dict):
            add_error(path, "must be an action name or {action, attempts, after}")
            continue
        for key in given:
            if key not in ("action", "attempts", "after"):
                add_error(f"{path}.{key}", "unknown key; allowed: action, attempts, after")
        policy = {**policies[cls], **given}
        if policy["action"] not in ACTIONS[cls]:
            add_error(f"{path}.action", f"must be one of {', '.join(ACTIONS[cls])}")
        for key, most in (("attempts", MAX_ATTEMPTS), ("after", MAX_AFTER)):
            value = policy[key]
            low = 0 if key == "attempts" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= most:
                add_error(f"{path}.{key}", f"must be an integer from {low} to {most}")
        policies[cls] = policy
    return policies


@dataclass(frozen=True)
class Retry:
    """A failed trial's next attempt: its parameters and what changed from the failed
    one's ({"batch_size": [64, 32]}: name -> [from, to]; trainer options as
    "trainer.<name>")."""

    params: dict
    change: dict


def plan_retry(policy: dict, params: dict, trainer: dict, generation: int) -> Retry | None:
    """The retry a policy asks for after a failure of a trial with `params` (run with
    `trainer` options) that was itself the `generation`-th retry (0: an original), or None
    when the policy retries no more or there is nothing left to change."""
    action = policy["action"]
    if action not in (RERUN, SMALLER, LOWER_LR) or generation >= policy["attempts"]:
        return None
    if action == RERUN:
        return Retry(dict(params), {})
    if action == SMALLER:
        if isinstance(params.get("batch_size"), int) and params["batch_size"] >= 2 * MIN_BATCH:
            smaller = params["batch_size"] // 2
            return Retry(
                {**params, "batch_size": smaller}, {"batch_size": [params["batch_size"], smaller]}
            )
        if trainer.get("processes", 1) > 1:
            fewer = trainer["processes"] // 2
            return Retry(dict(params), {"trainer.processes": [trainer["processes"], fewer]})
        return None
    for key in LR_KEYS:
        value = params.get(key)
        if isinstance(value, float | int) and not isinstance(value, bool) and value > 0:
            lower = float(value) * LR_FACTOR
            return Retry({**params, key: lower}, {key: [value, lower]})
    return None


def trainer_changes(change: dict) -> dict:
    """The trainer options a retry's change sets ({"processes": 2})."""
    return {
        key.removeprefix("trainer."): to
        for key, (_, to) in change.items()
        if key.startswith("trainer.")
    }
