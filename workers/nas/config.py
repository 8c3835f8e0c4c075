"""Validation and normalisation of NAS job configs: the one place these rules live.

Keys, [default]:
- strategy [{"name": "darts"} on images, {"name": "evolution"} on tables]: darts, evolution,
  rl or random, with its options (workers/nas/strategies/);
- space [cell for darts, macro for the others on images, mlp on tables]: {"name": ...,
  options} (workers/nas/spaces.py); darts searches the cell space only;
- proxy [{"epochs": 2, "subset": 1.0}]: how briefly each sampled candidate is trained
  (epochs over a `subset` share of the training rows);
- training [{"lr": 0.01, "batch_size": 64, "weight_decay": 0.0}]: Adam for candidates
  and the retrain;
- retrain [{"epochs": 10}]: the found architecture, trained from scratch on the training
  and validation rows, scored once on the test rows;
- constraints [{"max_params": null, "max_latency_ms": null}]: latency is one row's forward
  pass, measured on the worker;
- trainer [{"amp": false, "accumulation_steps": 1, "clip_norm": null}]: how candidates and
  the retrain train (workers/training/options.py); the device is the job's resources.device;
- test_size [0.2], valid_size [0.25] (of what the test split leaves), seed [0],
  timeout_s [null]; image_shape [null: the data's own, or 1 x k x k for rows of k*k pixels].

The normalised config also holds data_kind, derived from the data set; a stored config
given back as it is (a job run again) is accepted, its data_kind derived anew.
`parallelism` is the platform's key (see parallelism_problem).

Validation stays light: nothing here imports torch.
"""

from __future__ import annotations

import math

from workers.hpo.config import ConfigError, _Errors
from workers.hpo.options import check_options, integer, is_int, is_number, number
from workers.nas.spaces import MAX_NETWORK_PARAMS, SPACES
from workers.nas.strategies import STRATEGIES
from workers.training.options import option_errors

DATA_KINDS = ("image", "tabular")
TOP_KEYS = (
    "strategy",
    "space",
    "proxy",
    "training",
    "retrain",
    "constraints",
    "test_size",
    "valid_size",
    "seed",
    "timeout_s",
    "image_shape",
    "data_kind",
    "trainer",
)
PROXY = {"epochs": integer(2, 1, 100), "subset": number(1.0, 0.05, 1.0)}
TRAINING = {
    "lr": number(0.01, 1e-5, 1.0),
    "batch_size": integer(64, 1, 4096),
    "weight_decay": number(0.0, 0.0, 1.0),
}
RETRAIN = {"epochs": integer(10, 1, 1000)}
CONSTRAINTS = {
    "max_params": number(None, 1, 1e12, nullable=True),
    "max_latency_ms": number(None, 1e-3, 1e6, nullable=True),
}

__all__ = ["ConfigError", "data_kind_of", "parallelism_problem", "validate_nas_config"]


def validate_nas_config(
    config: object, data_kind: str, *, task: str = "classification", n_features: int | None = None
) -> dict:
    """Check a NAS config against the data set; return it normalised with defaults.

    Args:
        config: the user's config.
        data_kind: "image" (rows are images) or "tabular".
        task: the data set's task; NAS searches classifiers.
        n_features: columns per row, to check image_shape against.

    Raises:
        ConfigError: maps field paths to messages.
    """
    if data_kind not in DATA_KINDS:
        raise ValueError(f"unknown data kind {data_kind!r}")
    if not isinstance(config, dict):
        raise ConfigError({"": "config must be a JSON object"})
    err = _Errors()
    err.unknown_keys(config, TOP_KEYS, "")
    if task != "classification":
        err.add("", f"architecture search needs a classification data set, not {task}")

    image_shape = config.get("image_shape")
    if image_shape is not None:
        if not (
            isinstance(image_shape, list)
            and len(image_shape) == 3
            and all(is_int(s) and s >= 1 for s in image_shape)
        ):
            err.add("image_shape", "must be [channels, height, width] of positive integers")
        elif n_features is not None and math.prod(image_shape) != n_features:
            err.add(
                "image_shape",
                f"holds {math.prod(image_shape)} values per row; the data set has {n_features}",
            )
        else:
            data_kind = "image"  # a table whose rows are flattened images

    strategy = _named(
        config.get("strategy"),
        "strategy",
        STRATEGIES,
        err,
        "darts" if data_kind == "image" else "evolution",
    )
    default_space = "mlp" if data_kind == "tabular" else "cell"
    if data_kind == "image" and strategy.get("name") not in (None, "darts"):
        default_space = "macro"
    space = _named(config.get("space"), "space", SPACES, err, default_space)

    name, space_name = strategy.get("name"), space.get("name")
    if name in STRATEGIES and space_name in SPACES:
        if space_name not in STRATEGIES[name].spaces:
            err.add("space.name", f"{name} searches {', '.join(STRATEGIES[name].spaces)} only")
        inputs = SPACES[space_name].inputs
        if inputs == "image" and data_kind != "image":
            err.add(
                "space.name",
                f"the {space_name} space needs images; this data set is a "
                "table (give image_shape if its rows are flattened images)",
            )

    if space_name in SPACES and not any(p.startswith("space") for p in err):
        channels = image_shape[0] if image_shape else 3  # unknown here: at most RGB
        largest = SPACES[space_name](space).largest_params(
            channels if data_kind == "image" else n_features or 0
        )
        if largest > MAX_NETWORK_PARAMS:
            err.add(
                "space",
                f"its largest network holds about {largest:,} weights; at most "
                f"{MAX_NETWORK_PARAMS:,} are allowed (fewer or narrower layers, cells, "
                "nodes or channels)",
            )

    normalized = {
        "strategy": strategy,
        "space": space,
        "proxy": _section(config, "proxy", PROXY, err),
        "training": _section(config, "training", TRAINING, err),
        "retrain": _section(config, "retrain", RETRAIN, err),
        "constraints": _section(config, "constraints", CONSTRAINTS, err),
        "test_size": _fraction(config, "test_size", 0.2, err),
        "valid_size": _fraction(config, "valid_size", 0.25, err),
        "seed": config.get("seed", 0),
        "timeout_s": config.get("timeout_s"),
        "image_shape": image_shape,
        "data_kind": data_kind,
        "trainer": _trainer(config.get("trainer", {}), err),
    }
    seed = normalized["seed"]
    if not (is_int(seed) and 0 <= seed < 2**32):
        err.add("seed", "must be an integer from 0 to 2**32 - 1")
    timeout = normalized["timeout_s"]
    if timeout is not None and not (is_number(timeout) and timeout > 0):
        err.add("timeout_s", "must be a number of seconds > 0, or null")
    if err:
        raise ConfigError(err)
    return normalized


# Trainer options NAS takes elsewhere: where to set them instead.
ELSEWHERE = {
    "device": "set the job's resources.device instead",
    "processes": "each candidate trains in one process; spread candidates over "
    "workers with parallelism instead",
}


def _trainer(trainer: object, err: _Errors) -> dict:
    problems = option_errors(trainer)
    if isinstance(trainer, dict):
        problems.update({k: why for k, why in ELSEWHERE.items() if k in trainer})
    for key, message in problems.items():
        err.add("trainer" if key == "trainer" else f"trainer.{key}", message)
    if problems:
        return {}
    return {
        "amp": trainer.get("amp", False),
        "accumulation_steps": trainer.get("accumulation_steps", 1),
        "clip_norm": trainer.get("clip_norm"),
    }


def parallelism_problem(config: dict, parallelism: object) -> str | None:
    """Why a normalised config cannot spread its candidates over `parallelism` workers."""
    name = config["strategy"]["name"]
    if type(parallelism) is not int or parallelism <= 1 or STRATEGIES[name].parallel:
        return None
    parallel = ", ".join(n for n, s in STRATEGIES.items() if s.parallel)
    return (
        f"the {name} strategy runs on one worker, so parallelism must be 1 "
        f"({parallel} train candidates on several workers at once)"
    )


def _named(raw: object, path: str, registry: dict, err: _Errors, default: str) -> dict:
    """{"name": ..., options} with the options of registry[name] checked and filled in."""
    raw = {"name": default} if raw is None else raw
    raw = {"name": raw} if isinstance(raw, str) else raw
    names = ", ".join(registry)
    if not isinstance(raw, dict):
        err.add(path, f"must be one of {names} or an object with a 'name'")
        return {}
    name = raw.get("name", default)
    if name not in registry:
        err.add(f"{path}.name", f"must be one of {names}")
        return {"name": None}
    entry = registry[name]
    rest = {k: v for k, v in raw.items() if k != "name"}
    options = check_options(entry.options, rest, path, err.add)
    entry.check(options, lambda p, m: err.add(f"{path}.{p}", m))
    return {"name": name, **options}


def _section(config: dict, key: str, declared: dict, err: _Errors) -> dict:
    raw = config.get(key, {})
    if not isinstance(raw, dict):
        err.add(key, "must be an object")
        raw = {}
    return check_options(declared, raw, key, err.add)


def _fraction(config: dict, key: str, default: float, err: _Errors) -> float:
    value = config.get(key, default)
    if not (is_number(value) and 0.05 <= value <= 0.5):
        err.add(key, "must be a number from 0.05 to 0.5")
    return value


IMAGE_BUILTINS = ("digits",)  # bundled data sets whose rows are images (8 x 8 pixels)


def data_kind_of(builtin_name: str | None, stored_kind: str = "") -> str:
    """ "image" for image data sets (stored as images, or a bundled image set), else "tabular"."""
    return "image" if stored_kind == "images" or builtin_name in IMAGE_BUILTINS else "tabular"
