"""Validation and normalisation of HPO job configs: the one place these rules live.

validate_hpo_config returns an HPOConfig (frozen; its to_json() is what the Job stores and
HPOConfig.from_json checks a stored one again). Keys, [default]:
- task; metric [the task's first metric], or a list of up to three for a multi-objective
  search (n_params and latency_ms only beside a validation metric); direction [follows
  from metric: a string, or a list for a list];
- model ["auto": every tabular family of the task] and search_space [the family's];
- sampler [{"name": "tpe"}] and pruner [{"name": "none"}], each with its own options
  (samplers.py, pruners.py); sampler.seed [null: the job's seed];
- n_trials [20]; timeout_s [null]; patience [null: finished trials without a new best];
  trial_timeout_s [null], enforced between epochs, growth steps and folds; a trial stuck in
  one long fit (linear, SVM, k-NN) is ended by the runner's watchdog (engine.run_trials);
- validation [{"method": "holdout", "test_size": 0.25}] or {"method": "cv", "folds": 5};
  test_size [0.2], held out before any search and scored only by the refit best model;
- trial_rows [DEFAULT_TRIAL_ROWS]: trials search a stratified sample of at most this many
  of the search rows (null: all of them); the refit of the best trial fits every one;
- seed [0]; warm_start [null] or {"trials": [{"params": {...}, "values": [...] | null}]};
- trainer [{}]: how the torch families (mlp, cnn) train: device ["auto"], amp [false],
  accumulation_steps [1], clip_norm [null], processes [1] (several: one data-parallel
  trial over that many processes), stages [1] (several: each network's blocks split over
  that many devices, model parallel; at most the blocks of the space's smallest network);
  see workers/training/options.py;
- trial_memory_mb [null]: address space a trial may add (Linux); past it the trial fails
  as out of memory instead of the worker being killed (workers/memory.py);
- retry [every class's default]: failure class -> {action, attempts, after}, or just the
  action (workers/failures.py): what follows a failed trial of that class;
- parallelism [1]: trial runners sharing the study (the platform's key);
- time_budget_s [null]: seconds for the whole job, alone (n_trials then defaults to its
  maximum) or beside n_trials; with model "auto" the cheap families run first, each at its
  lowest fidelity (workers/hpo/budget.py);
- preset [null]: "quick", "balanced" or "best" (workers/hpo/presets.py): defaults for the
  budget, the families, the validation folds and ensembling; keys given win over it;
- ensemble [{"enabled": false}]: after the search, greedy ensemble selection (and
  optionally a stacked layer) over the best trials (workers/hpo/ensemble.py).

Validation must stay light: nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers import config as shared
from workers.config import (
    ConfigError,
    Errors,
    Named,
    TypedConfig,
    default,
    is_seed,
    option,
    section,
)
from workers.data.preprocess import validate_preprocessing
from workers.failures import default_policies, validate_retry
from workers.hpo.families import FAMILIES, families_for
from workers.hpo.metrics import METRICS, TASK_METRICS
from workers.hpo.options import Options, boolean, integer
from workers.hpo.options import is_int as _is_int
from workers.hpo.options import is_number as _is_number
from workers.hpo.presets import PRESETS, apply_preset
from workers.hpo.pruners import PRUNERS
from workers.hpo.samplers import SAMPLERS
from workers.hpo.space import MAX_GRID_POINTS, choice_key, grid_size, grid_values
from workers.memory import MAX_MB, MIN_MB
from workers.training.options import TrainerOptions

TASKS = ("classification", "regression")
MAX_DEPTH = 3  # levels of search space, counting the top level
MAX_OBJECTIVES = 3
MAX_WARM_START = 1000
MAX_TRIALS = 10000
MAX_CHOICES = 1000  # per categorical (fANOVA's cost grows with them)
# Enough rows for every family to rank configurations; a gigabyte table has millions.
DEFAULT_TRIAL_ROWS = 100_000
MIN_TRIAL_ROWS = 100
MAX_ENSEMBLE_MEMBERS = 20  # each member is refit on every search row: bounded
SPEC_KEYS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices", "conditional"),
    "fixed": ("type", "value"),
}


@dataclass(frozen=True)
class SamplerConfig(Named):
    """A sampler of samplers.py with its options; seed None: the job's seed."""

    seed: int | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "seed": self.seed, **self.options.to_json()}

    @classmethod
    def json_schema(cls) -> dict:
        short, entry = Named.json_schema()["oneOf"]
        seed = {"type": "integer", "nullable": True, "description": "null: the job's seed"}
        names = {"type": "string", "enum": list(SAMPLERS)}
        properties = {**entry["properties"], "name": names, "seed": seed}
        return {"oneOf": [{**short, "enum": list(SAMPLERS)}, {**entry, "properties": properties}]}


DEFAULT_SAMPLER = SamplerConfig("tpe", SAMPLERS["tpe"].options())


@dataclass(frozen=True)
class Validation:
    """How each trial is scored on the search rows: one held-out share, or k folds."""

    method: str = "holdout"
    test_size: float = 0.25  # holdout
    folds: int = 5  # cv

    def to_json(self) -> dict:
        if self.method == "cv":
            return {"method": "cv", "folds": self.folds}
        return {"method": "holdout", "test_size": self.test_size}

    @classmethod
    def json_schema(cls) -> dict:
        return {
            "type": "object",
            "description": cls.__doc__,
            "properties": {
                "method": {"type": "string", "enum": ["holdout", "cv"], "default": "holdout"},
                "test_size": {"type": "number", "default": 0.25, "description": "holdout"},
                "folds": {"type": "integer", "default": 5, "description": "cv"},
            },
            "additionalProperties": False,
        }


@dataclass(frozen=True)
class EnsembleOptions(Options):
    """Ensembling after the search: Caruana's greedy selection with replacement over the
    validation predictions of the `members` best trials, `rounds` picks; `stack` also fits
    a logistic/ridge layer on their predictions. The better of the ensembles and the single
    best trial on the held-out test rows is registered."""

    enabled: bool = option(boolean(False))
    members: int = option(integer(8, 2, MAX_ENSEMBLE_MEMBERS))
    rounds: int = option(integer(25, 1, 200))
    stack: bool = option(boolean(False))


@dataclass(frozen=True)
class HPOConfig(TypedConfig):
    """A checked HPO config (the module docstring lists each key)."""

    derived = ("task", "metric", "direction")

    task: str
    metric: str | list[str]
    direction: str | list[str]
    model: str = "auto"
    search_space: dict = field(default_factory=dict)
    sampler: SamplerConfig = DEFAULT_SAMPLER
    pruner: Named = Named("none")
    n_trials: int = 20
    timeout_s: float | None = None
    trial_timeout_s: float | None = None
    patience: int | None = None
    validation: Validation = Validation()
    test_size: float = 0.2
    # Rows each trial trains and validates on, a stratified sample (None: all of them).
    trial_rows: int | None = DEFAULT_TRIAL_ROWS
    seed: int = 0
    warm_start: dict | None = None
    trainer: TrainerOptions = TrainerOptions(device="auto")
    retry: dict = field(default_factory=default_policies)
    trial_memory_mb: int | None = None
    # The data set's target column and preprocessing (workers/data/preprocess.py).
    target: str | None = None
    preprocessing: dict | None = None
    parallelism: int = 1
    time_budget_s: float | None = None
    preset: str | None = None
    ensemble: EnsembleOptions = EnsembleOptions()

    @property
    def objectives(self) -> list[str]:
        """The metric names, as a list (one for single-objective)."""
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def directions(self) -> list[str]:
        return [METRICS[name].direction for name in self.objectives]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @classmethod
    def from_json(cls, data: object) -> HPOConfig:
        task = data.get("task") if isinstance(data, dict) else None
        if task not in TASKS:
            raise ConfigError({"task": f"must be one of {', '.join(TASKS)}"})
        return validate_hpo_config(data, task)


TOP_KEYS = tuple(HPOConfig.__dataclass_fields__)


def default_space(model: str, task: str) -> dict:
    """The search space used when the config names none."""
    if model != "auto":
        return FAMILIES[model].default_space(task)
    names = families_for(task, "tabular")
    sub = {name: FAMILIES[name].default_space(task) for name in names}
    return {"model": {"type": "categorical", "choices": names, "conditional": sub}}


def _is_scalar(v: object) -> bool:
    return v is None or isinstance(v, (str, bool)) or _is_number(v)


def validate_hpo_config(config: object, task: str) -> HPOConfig:
    """Check a user config against a dataset task; return it typed, defaults filled in."""
    if task not in TASKS:
        raise ValueError(f"unknown dataset task {task!r}")
    if not isinstance(config, dict):
        raise ConfigError({"": "config must be a JSON object"})
    err = Errors()
    err.unknown_keys(config, TOP_KEYS, "")
    preset = config.get("preset")
    if preset is not None and preset not in PRESETS:
        err.add("preset", f"must be one of {', '.join(PRESETS)}, or null")
    else:
        config = apply_preset(config, task)

    def given(key: str) -> Any:
        return config.get(key, default(HPOConfig, key))

    if config.get("task", task) != task:
        err.add("task", f"must be {task!r}: the dataset is a {task} dataset")
    metric, direction = _metric(config, task, err)
    multi = isinstance(metric, list)

    models = (*families_for(task), "auto")
    model = given("model")
    if model not in models:
        err.add("model", f"must be one of {', '.join(models)} for {task}")
        model = None
    space = config.get("search_space")
    if space is None:
        space = default_space(model, task) if model else {}
    elif model == "auto":
        space = _auto_space(space, task, err)
    else:
        space = _space(space, "search_space", model, 1, err, "", set())

    time_budget_s = shared.timeout(given("time_budget_s"), "time_budget_s", err)
    # With a time budget alone the budget ends the search: the trial count does not.
    n_trials = config.get(
        "n_trials", MAX_TRIALS if time_budget_s else default(HPOConfig, "n_trials")
    )
    if not (_is_int(n_trials) and 1 <= n_trials <= MAX_TRIALS):
        err.add("n_trials", f"must be an integer from 1 to {MAX_TRIALS}")
    for key in ("timeout_s", "trial_timeout_s"):
        shared.timeout(given(key), key, err)
    patience = given("patience")
    if patience is not None and not (_is_int(patience) and 1 <= patience <= MAX_TRIALS):
        err.add("patience", f"must be an integer from 1 to {MAX_TRIALS}, or null")
    elif patience is not None and multi:
        err.add("patience", "needs a single metric: a Pareto front has no one best value")
    trial_rows = given("trial_rows")
    if trial_rows is not None and not (_is_int(trial_rows) and trial_rows >= MIN_TRIAL_ROWS):
        err.add("trial_rows", f"must be an integer of at least {MIN_TRIAL_ROWS}, or null (all)")

    typed = HPOConfig(
        task=task,
        metric=metric,
        direction=direction,
        model=model,
        search_space=space,
        sampler=_sampler(config.get("sampler"), space, multi, err),
        pruner=_pruner(config.get("pruner"), multi, err),
        n_trials=n_trials,
        timeout_s=given("timeout_s"),
        trial_timeout_s=given("trial_timeout_s"),
        patience=patience,
        validation=_validation(config.get("validation", {}), err),
        test_size=shared.fraction(given("test_size"), "test_size", err),
        trial_rows=trial_rows,
        seed=shared.seed(given("seed"), "seed", err),
        warm_start=_warm_start(given("warm_start"), len(metric) if multi else 1, err),
        trainer=shared.trainer(config.get("trainer", {}), err, default(HPOConfig, "trainer")),
        retry=validate_retry(config.get("retry"), err.add),
        trial_memory_mb=_memory(given("trial_memory_mb"), err),
        **validate_preprocessing(config, report=err.add),
        parallelism=shared.parallelism(given("parallelism"), "parallelism", err),
        time_budget_s=time_budget_s,
        preset=preset,
        ensemble=section(config, "ensemble", EnsembleOptions, err),
    )
    if typed.ensemble.enabled and multi:
        err.add("ensemble.enabled", "ensembling needs a single metric: a front has no one best")
    if not err:
        _stages(typed, err)
    if err:
        raise ConfigError(err)
    return typed


def _memory(value: object, err: Errors) -> object:
    if value is not None and not (_is_int(value) and MIN_MB <= value <= MAX_MB):
        err.add("trial_memory_mb", f"must be an integer from {MIN_MB} to {MAX_MB}, or null")
    return value


def _stages(config: HPOConfig, err: Errors) -> None:
    """trainer.stages > 1 needs a torch family whose every network has that many blocks
    (stages cut between blocks); the other families train in one piece."""
    stages = config.trainer.stages
    if stages == 1:
        return
    model, space = config.model, config.search_space
    spaces = space["model"]["conditional"] if model == "auto" else {model: space}
    fewest = {
        name: FAMILIES[name].fewest_blocks(sub)
        for name, sub in spaces.items()
        if FAMILIES[name].fewest_blocks(sub) is not None
    }
    if not fewest:
        torch_families = [n for n, f in FAMILIES.items() if f.fewest_blocks({}) is not None]
        err.add(
            "trainer.stages",
            f"stages split torch networks ({', '.join(torch_families)}); {model} searches none",
        )
    for name, blocks in fewest.items():
        if stages > blocks:
            err.add(
                "trainer.stages",
                f"{stages} stages need networks of at least {stages} blocks; the {name} "
                f"search space gives some of {blocks} ({FAMILIES[name].blocks})",
            )


def _metric(config: dict, task: str, err: Errors) -> tuple[object, object]:
    """(metric, direction): strings for one metric, lists for several."""
    allowed = TASK_METRICS[task]
    metric = config.get("metric", allowed[0])
    names = metric if isinstance(metric, list) else [metric]
    if not names or len(names) > MAX_OBJECTIVES:
        err.add("metric", f"must be a metric name or a list of 1 to {MAX_OBJECTIVES} names")
        return metric, None
    if not all(isinstance(n, str) and n in allowed for n in names):
        err.add("metric", f"must be one of {', '.join(allowed)} for {task}, or a list of them")
        return metric, None
    if len(set(names)) != len(names):
        err.add("metric", "must not repeat a metric")
        return metric, None
    if all(METRICS[n].needs == "model" for n in names):
        err.add("metric", "needs at least one validation metric besides n_params/latency_ms")
        return metric, None
    if not isinstance(metric, list) and METRICS[metric].needs == "model":
        err.add("metric", "n_params and latency_ms go in a list with a validation metric")
    direction = [METRICS[n].direction for n in names]
    if not isinstance(metric, list):
        direction = direction[0]
    if config.get("direction", direction) != direction:
        err.add("direction", f"must be {direction!r}: it follows from metric {metric!r}")
    return metric, direction


def _auto_space(raw: object, task: str, err: Errors) -> dict:
    path = "search_space"
    if not isinstance(raw, dict):
        err.add(path, "must be an object mapping parameter names to specs")
        return {}
    for name in raw:
        if name != "model":
            err.add(f"{path}.{name}", "with model 'auto' put parameters under model.conditional")
    if "model" not in raw:
        err.add(f"{path}.model", "required with model 'auto': a categorical over model families")
        return {}
    spec = _spec(raw["model"], f"{path}.model", None, 1, err, "", set(), choice_families=True)
    if spec is None:
        return {}
    if spec["type"] != "categorical":
        err.add(f"{path}.model.type", "must be 'categorical' with model 'auto'")
        return {}
    names = families_for(task)
    for choice in spec["choices"]:
        if choice not in names:
            err.add(f"{path}.model.choices", f"{choice!r} is not one of {', '.join(names)}")
        else:  # families without an explicit sub-space search their default one
            spec["conditional"].setdefault(choice, FAMILIES[choice].default_space(task))
    return {"model": spec}


def _space(
    raw: object, path: str, family: str | None, depth: int, err: Errors, prefix: str, seen: set
) -> dict:
    if not isinstance(raw, dict):
        err.add(path, "must be an object mapping parameter names to specs")
        return {}
    allowed = FAMILIES[family].params if family in FAMILIES else None
    limits = FAMILIES[family].limits if family in FAMILIES else {}
    out = {}
    for name, spec in raw.items():
        p = f"{path}.{name}"
        if not isinstance(name, str) or not name or "." in name:
            err.add(p, "parameter names must be non-empty and contain no '.'")
        elif allowed is not None and name not in allowed:
            err.add(p, f"not a {family} parameter; allowed: {', '.join(allowed)}")
        elif prefix + name in seen:
            err.add(p, f"flattened name {prefix + name!r} is used twice")
        else:
            seen.add(prefix + name)
            norm = _spec(spec, p, family, depth, err, prefix, seen, limit=limits.get(name))
            if norm is not None:
                out[name] = norm
    return out


def _spec(
    spec: object,
    path: str,
    family: str | None,
    depth: int,
    err: Errors,
    prefix: str,
    seen: set,
    choice_families: bool = False,
    limit: int | None = None,
) -> dict | None:
    """A spec normalised; `limit`: the largest value the family allows its param."""
    if not isinstance(spec, dict):
        err.add(path, "must be an object with a 'type'")
        return None
    kind = spec.get("type")
    if kind not in SPEC_KEYS:
        err.add(f"{path}.type", f"unknown type {kind!r}; allowed: {', '.join(SPEC_KEYS)}")
        return None
    err.unknown_keys(spec, SPEC_KEYS[kind], path)
    if kind in ("float", "int"):
        norm = _numeric(spec, path, kind, err)
        _check_limit(path, "high", [norm.get("high")], limit, err)
        return norm
    if kind == "fixed":
        if "value" not in spec:
            err.add(f"{path}.value", "required")
        elif not _is_scalar(spec["value"]):
            err.add(f"{path}.value", "must be a JSON scalar")
        else:
            _check_limit(path, "value", [spec["value"]], limit, err)
        return {"type": "fixed", "value": spec.get("value")}

    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        err.add(f"{path}.choices", "must be a non-empty list")
        choices = []
    elif not all(_is_scalar(c) for c in choices):
        err.add(f"{path}.choices", "must hold only JSON scalars (string, number, bool, null)")
    elif len(choices) > MAX_CHOICES:
        err.add(f"{path}.choices", f"must hold at most {MAX_CHOICES} choices")
    elif len({choice_key(c) for c in choices}) != len(choices):
        err.add(f"{path}.choices", "must not repeat a choice")
    else:
        _check_limit(path, "choices", choices, limit, err)
    keys = {choice_key(c) for c in choices if _is_scalar(c)}
    raw_cond = spec.get("conditional") or {}
    if not isinstance(raw_cond, dict):
        err.add(f"{path}.conditional", "must be an object mapping choices to sub-spaces")
        raw_cond = {}
    conditional = {}
    for raw_key, sub in raw_cond.items():
        key = choice_key(raw_key)
        sub_path = f"{path}.conditional.{key}"
        if key not in keys:
            err.add(sub_path, "is not one of the choices")
        elif depth >= MAX_DEPTH:
            err.add(sub_path, f"search spaces nest at most {MAX_DEPTH} levels deep")
        else:
            sub_family = key if choice_families else family
            sub_prefix = f"{prefix}{key}."
            conditional[key] = _space(sub, sub_path, sub_family, depth + 1, err, sub_prefix, seen)
    return {"type": "categorical", "choices": list(choices), "conditional": conditional}


def _check_limit(path: str, key: str, values: list, limit: int | None, err: Errors) -> None:
    """A param's values must stay within the family's limit (the name ends the path)."""
    if limit is not None and any(_is_number(v) and v > limit for v in values):
        name = path.rsplit(".", 1)[-1]
        err.add(f"{path}.{key}", f"must be at most {limit}: the largest {name} a trial may use")


def _numeric(spec: dict, path: str, kind: str, err: Errors) -> dict:
    ok, what = (_is_int, "an integer") if kind == "int" else (_is_number, "a number")
    bounds = {}
    for key in ("low", "high"):
        if key not in spec:
            err.add(f"{path}.{key}", "required")
        elif not ok(spec[key]):
            err.add(f"{path}.{key}", f"must be {what}")
        else:
            bounds[key] = spec[key] if kind == "int" else float(spec[key])
    log = spec.get("log", False)
    if not isinstance(log, bool):
        err.add(f"{path}.log", "must be true or false")
        log = False
    step = spec.get("step")
    if step is not None:
        if not (ok(step) and step > 0):
            err.add(f"{path}.step", f"must be {what} > 0, or null")
        elif log and not (kind == "int" and step == 1):  # Optuna cannot step on a log scale
            err.add(f"{path}.step", "cannot be combined with log")
    if len(bounds) == 2:
        if bounds["low"] > bounds["high"]:
            err.add(f"{path}.low", "must not exceed high")
        elif log and bounds["low"] <= 0:
            err.add(f"{path}.low", "must be > 0 when log is true")
    return {"type": kind, **bounds, "log": log, "step": step}


def _sampler(raw: object, space: dict, multi: bool, err: Errors) -> SamplerConfig:
    fallback = default(HPOConfig, "sampler")
    name, rest = shared.named(raw, "sampler", SAMPLERS, err, fallback.name)
    if name is None:
        return fallback
    sampler = SAMPLERS[name]
    seed = rest.pop("seed", None)
    if seed is not None and not is_seed(seed):
        err.add("sampler.seed", f"must be {shared.SEED_RULE}, or null (the job's seed)")
    options = sampler.options.parse(rest, "sampler", err.add)
    if multi and not sampler.multi_objective:
        err.add("sampler.name", f"{name} handles one metric only; use nsga2, tpe or random")
    if sampler.finite_space:
        values, problems = grid_values(space)
        for path, message in problems.items():
            err.add(path, message)
        if not problems and grid_size(values) > MAX_GRID_POINTS:
            err.add(
                "search_space",
                f"the grid has {grid_size(values)} points; "
                f"the grid sampler allows at most {MAX_GRID_POINTS}",
            )
    return SamplerConfig(name, options, seed)


def _pruner(raw: object, multi: bool, err: Errors) -> Named:
    fallback = default(HPOConfig, "pruner")
    name, rest = shared.named(raw, "pruner", PRUNERS, err, fallback.name)
    if name is None:
        return fallback
    if multi and name != fallback.name:
        err.add("pruner.name", f"pruning needs a single metric; use {fallback.name!r}")
    return Named(name, PRUNERS[name].options.parse(rest, "pruner", err.add))


def _warm_start(raw: object, n_values: int, err: Errors) -> dict | None:
    """{"trials": [{"params": {...}, "values": [...] or null}, ...]} (+ "from_job")."""
    if raw is None:
        return None
    path = "warm_start"
    if not isinstance(raw, dict):
        err.add(path, "must be an object with a list of 'trials', or null")
        return None
    err.unknown_keys(raw, ("trials", "from_job"), path)
    trials = raw.get("trials")
    if not isinstance(trials, list) or len(trials) > MAX_WARM_START:
        err.add(f"{path}.trials", f"must be a list of at most {MAX_WARM_START} trials")
        return None
    out = []
    for i, trial in enumerate(trials):
        p = f"{path}.trials.{i}"
        if not isinstance(trial, dict):
            err.add(p, "must be an object with 'params' and 'values'")
            continue
        err.unknown_keys(trial, ("params", "values"), p)
        params, values = trial.get("params"), trial.get("values")
        if not (isinstance(params, dict) and all(_is_scalar(v) for v in params.values())):
            err.add(f"{p}.params", "must be an object of JSON scalars")
        if values is not None and not (
            isinstance(values, list)
            and len(values) == n_values
            and all(_is_number(v) for v in values)
        ):
            err.add(
                f"{p}.values",
                f"must be a list of {n_values} number(s) (one per metric), "
                "or null to run the trial",
            )
        out.append({"params": params, "values": values})
    return {**raw, "trials": out}


def normalize_space(raw: object, path: str) -> dict:
    """A search space (no family checks) normalised like search_space; ConfigError if bad."""
    err = Errors()
    space = _space(raw, path, None, 1, err, "", set())
    if err:
        raise ConfigError(err)
    return space


def _validation(raw: object, err: Errors) -> Validation:
    if not isinstance(raw, dict):
        err.add("validation", "must be an object with a 'method'")
        return Validation()
    method = raw.get("method", default(Validation, "method"))
    if method == "holdout":
        err.unknown_keys(raw, ("method", "test_size"), "validation")
        size = raw.get("test_size", default(Validation, "test_size"))
        return Validation(method, test_size=shared.fraction(size, "validation.test_size", err))
    if method == "cv":
        err.unknown_keys(raw, ("method", "folds"), "validation")
        folds = raw.get("folds", default(Validation, "folds"))
        if not (_is_int(folds) and 2 <= folds <= 20):
            err.add("validation.folds", "must be an integer from 2 to 20")
        return Validation(method, folds=folds)
    err.add("validation.method", "must be 'holdout' or 'cv'")
    return Validation()
