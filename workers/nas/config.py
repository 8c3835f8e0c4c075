"""Validation and normalisation of NAS job configs: the one place these rules live.

validate_nas_config returns a NASConfig (frozen; its to_json() is what the Job stores and
NASConfig.from_json checks a stored one again).

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
- trainer [{"amp": false, "accumulation_steps": 1, "clip_norm": null, "stages": 1}]: how
  candidates and the retrain train (workers/training/options.py); the device is the job's
  resources.device; stages > 1 splits each network over that many devices (DARTS's
  supernet search trains on one, its retrain in stages);
- parallelism [1]: workers training candidates at once (the platform's key);
- test_size [0.2], valid_size [0.25] (of what the test split leaves), seed [0],
  timeout_s [null]; image_shape [null: the data's own, or 1 x k x k for rows of k*k pixels].

The normalised config also holds data_kind, derived from the data set; a stored config
given back as it is (a job run again) is accepted, its data_kind derived anew.
The platform checks `parallelism` against the strategy (see parallelism_problem).

Validation stays light: nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from workers import config as shared
from workers.config import ConfigError, Errors, Named, TypedConfig, default
from workers.hpo.options import Options, integer, is_int, number, option
from workers.nas.spaces import MAX_NETWORK_PARAMS, SPACES
from workers.nas.strategies import STRATEGIES
from workers.training.options import TrainerOptions

DATA_KINDS = ("image", "tabular")


@dataclass(frozen=True)
class Proxy(Options):
    """How briefly each sampled candidate trains: epochs over a `subset` of the rows."""

    epochs: int = option(integer(2, 1, 100))
    subset: float = option(number(1.0, 0.05, 1.0))


@dataclass(frozen=True)
class Training(Options):
    """Adam, for candidates and the retrain."""

    lr: float = option(number(0.01, 1e-5, 1.0))
    batch_size: int = option(integer(64, 1, 4096))
    weight_decay: float = option(number(0.0, 0.0, 1.0))


@dataclass(frozen=True)
class Retrain(Options):
    epochs: int = option(integer(10, 1, 1000))


@dataclass(frozen=True)
class Constraints(Options):
    """Limits a found architecture must keep (None: no limit)."""

    max_params: float | None = option(number(None, 1, 1e12, nullable=True))
    max_latency_ms: float | None = option(number(None, 1e-3, 1e6, nullable=True))


@dataclass(frozen=True)
class NASConfig(TypedConfig):
    """A checked NAS config (the module docstring lists each key)."""

    derived = ("strategy", "space")

    strategy: Named
    space: Named
    proxy: Proxy = Proxy()
    training: Training = Training()
    retrain: Retrain = Retrain()
    constraints: Constraints = Constraints()
    test_size: float = 0.2
    valid_size: float = 0.25
    seed: int = 0
    timeout_s: float | None = None
    image_shape: list[int] | None = None
    data_kind: str = "tabular"
    # The device is the job's resources.device; see ELSEWHERE.
    trainer: TrainerOptions = field(default_factory=TrainerOptions)
    parallelism: int = 1

    def to_json(self) -> dict:
        out = super().to_json()
        out["trainer"] = {k: v for k, v in out["trainer"].items() if k not in ELSEWHERE}
        return out

    @classmethod
    def json_schema(cls) -> dict:
        schema = shared.dataclass_schema(cls)
        trainer = schema["properties"]["trainer"]["properties"]
        for key in ELSEWHERE:
            del trainer[key]
        return schema

    @classmethod
    def from_json(cls, data: object, n_features: int | None = None) -> NASConfig:
        kind = data.get("data_kind") if isinstance(data, dict) else None
        if kind not in DATA_KINDS:
            raise ConfigError({"data_kind": f"must be one of {', '.join(DATA_KINDS)}"})
        return validate_nas_config(data, kind, n_features=n_features)


TOP_KEYS = tuple(NASConfig.__dataclass_fields__)

__all__ = [
    "ConfigError",
    "NASConfig",
    "data_kind_of",
    "parallelism_problem",
    "validate_nas_config",
]


def validate_nas_config(
    config: object, data_kind: str, *, task: str = "classification", n_features: int | None = None
) -> NASConfig:
    """Check a NAS config against the data set; return it typed, defaults filled in.

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
    err = Errors()
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
    if data_kind == "image" and strategy.name not in (None, "darts"):
        default_space = "macro"
    space = _named(config.get("space"), "space", SPACES, err, default_space)

    name, space_name = strategy.name, space.name
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
        largest = SPACES[space_name](space.options).largest_params(
            channels if data_kind == "image" else n_features or 0
        )
        if largest > MAX_NETWORK_PARAMS:
            err.add(
                "space",
                f"its largest network holds about {largest:,} weights; at most "
                f"{MAX_NETWORK_PARAMS:,} are allowed (fewer or narrower layers, cells, "
                "nodes or channels)",
            )

    def given(key: str) -> object:
        return config.get(key, default(NASConfig, key))

    typed = NASConfig(
        strategy=strategy,
        space=space,
        proxy=shared.section(config, "proxy", Proxy, err),
        training=shared.section(config, "training", Training, err),
        retrain=shared.section(config, "retrain", Retrain, err),
        constraints=shared.section(config, "constraints", Constraints, err),
        test_size=shared.fraction(given("test_size"), "test_size", err),
        valid_size=shared.fraction(given("valid_size"), "valid_size", err),
        seed=shared.seed(given("seed"), "seed", err),
        timeout_s=shared.timeout(given("timeout_s"), "timeout_s", err),
        image_shape=image_shape,
        data_kind=data_kind,
        trainer=shared.trainer(config.get("trainer", {}), err, TrainerOptions(), ELSEWHERE),
        parallelism=shared.parallelism(given("parallelism"), "parallelism", err),
    )
    stages = typed.trainer.stages
    if stages > 1 and space_name in SPACES and not any(p.startswith("space") for p in err):
        fewest = SPACES[space_name](space.options).fewest_blocks()
        if stages > fewest:
            err.add(
                "trainer.stages",
                f"{stages} stages need networks of at least {stages} blocks; the "
                f"{space_name} space builds some of {fewest} ({BLOCKS[space_name]})",
            )
    if err:
        raise ConfigError(err)
    return typed


# What a block is in each space: stages cut between blocks (workers/training/pipeline.py).
BLOCKS = {
    "cell": "the stem, each cell, the head",
    "macro": "min_layers conv layers and the head",
    "mlp": "min_layers layers and the head",
}

# Trainer options NAS takes elsewhere: where to set them instead.
ELSEWHERE = {
    "device": "set the job's resources.device instead",
    "processes": "each candidate trains in one process; spread candidates over "
    "workers with parallelism instead",
}


def parallelism_problem(config: NASConfig, parallelism: object) -> str | None:
    """Why a checked config cannot spread its candidates over `parallelism` workers."""
    name = config.strategy.name
    if type(parallelism) is not int or parallelism <= 1 or STRATEGIES[name].parallel:
        return None
    parallel = ", ".join(n for n, s in STRATEGIES.items() if s.parallel)
    return (
        f"the {name} strategy runs on one worker, so parallelism must be 1 "
        f"({parallel} train candidates on several workers at once)"
    )


def _named(raw: object, path: str, registry: dict, err: Errors, fallback: str) -> Named:
    """The entry of registry it names, its options checked and filled in (name None when
    it names none)."""
    name, rest = shared.named(raw, path, registry, err, fallback)
    if name is None:
        return Named(None)
    return Named(name, registry[name].options.parse(rest, path, err.add))


IMAGE_BUILTINS = ("digits",)  # bundled data sets whose rows are images (8 x 8 pixels)


def data_kind_of(builtin_name: str | None, stored_kind: str = "") -> str:
    """ "image" for image data sets (stored as images, or a bundled image set), else "tabular"."""
    return "image" if stored_kind == "images" or builtin_name in IMAGE_BUILTINS else "tabular"
