"""What the job config validators (hpo, nas, compression) share: the error type, the error
collector, and the checks written once: the seed, held-out fractions, an entry of a named
registry with its declared options, a section of declared options, trainer options.

Validation stays light: nothing here imports torch (the web process validates configs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.hpo.options import Option, check_options, is_int, is_number
from workers.training.options import TrainerOptions, option_errors

MAX_SEED = 2**32 - 1
SEED_RULE = "an integer from 0 to 2**32 - 1"
MAX_TIMEOUT_S = 7 * 24 * 3600  # a job's or a trial's time limit: a week
FRACTION = (0.05, 0.5)  # held-out shares: test_size, valid_size, validation.test_size


class ConfigError(Exception):
    """Invalid config; `errors` maps field paths ("" = the whole config) to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.errors.items()))


class Errors(dict):
    """Field path -> message, the first problem per field (the useful one)."""

    def add(self, path: str, message: str) -> None:
        self.setdefault(path, message)

    def unknown_keys(self, obj: dict, allowed: tuple[str, ...], path: str) -> None:
        for key in obj:
            if key not in allowed:
                sub = f"{path}.{key}" if path else str(key)
                self.add(sub, f"unknown key; allowed: {', '.join(allowed)}")


def is_seed(value: object) -> bool:
    return is_int(value) and 0 <= value <= MAX_SEED


def seed(value: object, path: str, err: Errors) -> object:
    if not is_seed(value):
        err.add(path, f"must be {SEED_RULE}")
    return value


def timeout(value: object, path: str, err: Errors) -> object:
    """Seconds, or None for no limit."""
    if value is not None and not (is_number(value) and value > 0):
        err.add(path, "must be a number of seconds > 0, or null")
    elif value is not None and value > MAX_TIMEOUT_S:
        err.add(path, f"must be at most {MAX_TIMEOUT_S} seconds (7 days), or null")
    return value


def fraction(value: object, path: str, err: Errors) -> object:
    low, high = FRACTION
    if not (is_number(value) and low <= value <= high):
        err.add(path, f"must be a number from {low} to {high}")
    return value


def named(
    raw: object, path: str, registry: Mapping[str, Any], err: Errors, default: str
) -> tuple[str | None, dict]:
    """(name, the other keys) of a registry entry given as its name or an object with a
    "name"; (None, {}) when it names none."""
    raw = {"name": default} if raw is None else raw
    raw = {"name": raw} if isinstance(raw, str) else raw
    names = ", ".join(registry)
    if not isinstance(raw, dict):
        err.add(path, f"must be one of {names} or an object with a 'name'")
        return None, {}
    name = raw.get("name", default)
    if name not in registry:
        err.add(f"{path}.name", f"must be one of {names}")
        return None, {}
    return name, {k: v for k, v in raw.items() if k != "name"}


def section(config: dict, key: str, declared: dict[str, Option], err: Errors) -> dict:
    """The object config[key] with its declared options checked and defaults filled in."""
    raw = config.get(key, {})
    if not isinstance(raw, dict):
        err.add(key, "must be an object")
        raw = {}
    return check_options(declared, raw, key, err.add)


def trainer(raw: object, err: Errors, elsewhere: Mapping[str, str] | None = None) -> dict:
    """Every trainer option with its default; `elsewhere`: options this kind of job takes
    from another key (option -> where to set it instead). {} if any is bad."""
    problems = option_errors(raw)
    if isinstance(raw, dict):
        problems.update({k: why for k, why in (elsewhere or {}).items() if k in raw})
    for key, message in problems.items():
        err.add("trainer" if key == "trainer" else f"trainer.{key}", message)
    if problems:
        return {}
    options = vars(TrainerOptions(**{"device": "auto", **raw}))
    return {k: v for k, v in options.items() if k not in (elsewhere or {})}
