"""What the job config validators (hpo, nas, compression) share: the typed config base, the
error type, the error collector, and the checks written once: the seed, held-out fractions,
time limits, parallelism, an entry of a named registry with its declared options, a section
of declared options, trainer options.

Each validator returns a frozen dataclass (a `TypedConfig`): its `to_json()` is what a Job
stores, and its `from_json()` is what a worker rebuilds from the stored JSON by running the
same checks again, so every bound is checked at submission and again in the engine. A
field's default lives in its dataclass field only; validators read it from there
(`default`).

Validation stays light: nothing here imports torch (the web process validates configs).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from workers.hpo.options import Options, is_int, is_number
from workers.hpo.options import option as option  # config modules declare sections with it
from workers.training.options import TrainerOptions, option_errors

MAX_SEED = 2**32 - 1
SEED_RULE = "an integer from 0 to 2**32 - 1"
MAX_TIMEOUT_S = 7 * 24 * 3600  # a job's or a trial's time limit: a week
FRACTION = (0.05, 0.5)  # held-out shares: test_size, valid_size, validation.test_size
MAX_PARALLELISM = 32  # trial runners of one job

SectionT = TypeVar("SectionT", bound=Options)


def to_json(value: Any) -> Any:
    """A config value as JSON: typed parts give their own to_json(), tuples become lists."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


class TypedConfig:
    """Base of the frozen config dataclasses: JSON out (what a Job stores) and back in."""

    # Fields without a default that the validator derives when they are missing.
    derived: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict:
        """The JSON object stored as Job.config (its keys are the dataclass's fields)."""
        return {f.name: to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: object) -> Self:
        """The config rebuilt from its stored JSON, every check run again (ConfigError)."""
        raise NotImplementedError


def json_schema(hint: Any) -> dict:
    """The OpenAPI (3.0) schema of what a client may send for a config type: a typed
    config, one of its parts, or a field's type hint. Parts whose JSON differs from their
    fields (a registry entry, a validation method) declare their own `json_schema()`."""
    if hasattr(hint, "json_schema"):
        return hint.json_schema()
    if dataclasses.is_dataclass(hint):
        return dataclass_schema(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        schema = (
            json_schema(present[0])
            if len(present) == 1
            else {"oneOf": [json_schema(a) for a in present]}
        )
        return {**schema, "nullable": True} if len(present) < len(args) else schema
    if origin in (list, tuple):
        return {"type": "array", "items": json_schema(args[0]) if args else {}}
    if hint is dict or origin in (dict, Mapping):
        return {"type": "object", "additionalProperties": True}
    return dict(_SCALARS.get(hint, {}))


_SCALARS = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def dataclass_schema(cls: type) -> dict:
    """An object with a property per field (typed by its hint) and no others."""
    hints = typing.get_type_hints(cls)
    derived = getattr(cls, "derived", ())
    properties, required = {}, []
    for spec in dataclasses.fields(cls):
        schema = json_schema(hints[spec.name])
        if "option" in spec.metadata:
            schema["description"] = f"{spec.metadata['option'].expected}"
        has_default = (
            spec.default is not dataclasses.MISSING
            or spec.default_factory is not dataclasses.MISSING
        )
        if spec.default is not dataclasses.MISSING and not dataclasses.is_dataclass(spec.default):
            schema["default"] = to_json(spec.default)
        if not has_default and spec.name not in derived:
            required.append(spec.name)
        properties[spec.name] = schema
    out = {"type": "object", "properties": properties, "additionalProperties": False}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        out["description"] = cls.__doc__.strip().splitlines()[0]
    return {**out, "required": required} if required else out


def default(cls: type, name: str) -> Any:
    """The default of dataclass field `name`: where a validator takes a missing key's value."""
    spec = cls.__dataclass_fields__[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


@dataclass(frozen=True)
class Named:
    """An entry of a named registry (a sampler, a pruner, a NAS strategy or space) and its
    checked options (the entry's `options` dataclass); as JSON {"name": ..., **options}."""

    name: str
    options: Options = Options()

    def to_json(self) -> dict:
        return {"name": self.name, **to_json(self.options.to_json())}

    @classmethod
    def json_schema(cls) -> dict:
        entry = {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "additionalProperties": True,
            "description": "a registered name and its declared options (the README lists them)",
        }
        return {"oneOf": [{"type": "string", "description": "a registered name"}, entry]}


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


def parallelism(value: object, path: str, err: Errors, most: int = MAX_PARALLELISM) -> object:
    """How many trial runners share the job (the platform's key, stored in every config)."""
    if not (is_int(value) and 1 <= value <= most):
        err.add(path, f"must be a whole number from 1 to {most}")
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
    if not isinstance(name, str) or name not in registry:
        err.add(f"{path}.name", f"must be one of {names}")
        return None, {}
    return name, {k: v for k, v in raw.items() if k != "name"}


def section(config: dict, key: str, cls: type[SectionT], err: Errors) -> SectionT:
    """The object config[key] as `cls` (an Options dataclass), each option checked and
    missing ones at their defaults; `cls`'s defaults when config[key] is bad."""
    raw = config.get(key, {})
    if not isinstance(raw, dict):
        err.add(key, "must be an object")
        raw = {}
    problems = len(err)
    checked = cls.parse(raw, key, err.add)
    return checked if len(err) == problems else cls()


def trainer(
    raw: object, err: Errors, defaults: TrainerOptions, elsewhere: Mapping[str, str] | None = None
) -> TrainerOptions:
    """The trainer options given over `defaults` (the job kind's); `elsewhere`: options this
    kind of job takes from another key (option -> where to set it instead). `defaults` if
    any is bad."""
    problems = option_errors(raw)
    if isinstance(raw, dict):
        problems.update({k: why for k, why in (elsewhere or {}).items() if k in raw})
    for key, message in problems.items():
        err.add("trainer" if key == "trainer" else f"trainer.{key}", message)
    if problems:
        return defaults
    return dataclasses.replace(defaults, **raw)
