"""Declared options of registered algorithms (samplers, pruners, NAS strategies and spaces,
compression techniques) and of config sections, checked at submission.

Each algorithm declares its options as a frozen dataclass of `option(...)` fields (an
`Options` subclass): the field holds the default and the check, once; the engine reads the
checked values as attributes.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self


def is_int(v: object) -> bool:
    # bool is a subclass of int, so `True` must be refused explicitly everywhere.
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: object) -> bool:
    return (is_int(v) or isinstance(v, float)) and math.isfinite(v)


@dataclass(frozen=True)
class Option:
    """One option: its default, a check, and what the check expects (for the message)."""

    default: object
    check: Callable[[object], bool]
    expected: str


def boolean(default: bool) -> Option:
    return Option(default, lambda v: isinstance(v, bool), "true or false")


def integer(default: int | None, low: int, high: int | None = None) -> Option:
    upper = math.inf if high is None else high
    text = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    return Option(default, lambda v: is_int(v) and low <= v <= upper, text)


def number(default: float | None, low: float, high: float, *, nullable: bool = False) -> Option:
    text = f"a number from {low} to {high}" + (", or null" if nullable else "")
    return Option(
        default,
        lambda v: (nullable and v is None) or (is_number(v) and low <= v <= high),
        text,
    )


def one_of(default: object, *choices: object) -> Option:
    return Option(default, lambda v: v in choices, "one of " + ", ".join(map(repr, choices)))


def either(first: Option, second: Option) -> Option:
    return Option(
        first.default,
        lambda v: first.check(v) or second.check(v),
        f"{first.expected}, or {second.expected}",
    )


def check_options(
    declared: dict[str, Option], raw: dict, path: str, add: Callable[[str, str], None]
) -> dict:
    """Options with defaults filled in; calls add(field path, message) for each problem."""
    for key in raw:
        if key not in declared:
            allowed = ", ".join(declared) or "none"
            add(f"{path}.{key}", f"unknown option; allowed: {allowed}")
    out = {}
    for key, option in declared.items():
        value = raw.get(key, option.default)
        if not option.check(value):
            add(f"{path}.{key}", f"must be {option.expected}")
        out[key] = value
    return out


def option(declared: Option) -> Any:
    """A dataclass field declared by an Option: its default, and the check `Options.parse`
    runs. A list or object default is copied for each instance."""
    if declared.default.__class__.__hash__ is None:  # what dataclasses refuse as a default
        value = declared.default
        return dataclasses.field(
            default_factory=lambda: copy.deepcopy(value), metadata={"option": declared}
        )
    return dataclasses.field(default=declared.default, metadata={"option": declared})


@dataclass(frozen=True)
class Options:
    """The checked options of one algorithm or config section; subclasses declare each
    option as a field, `name: type = option(integer(10, 0))`. As JSON: field -> value."""

    @classmethod
    def declared(cls) -> dict[str, Option]:
        return {f.name: f.metadata["option"] for f in dataclasses.fields(cls)}

    @classmethod
    def parse(cls, raw: dict, path: str, add: Callable[[str, str], None]) -> Self:
        """The options given in `raw` over the defaults; add(field path, message) for each
        problem, the cross-option ones (`check`) included. After a problem the values are
        the ones given, good or bad: the caller refuses the config."""
        options = cls(**check_options(cls.declared(), raw, path, add))
        options.check(lambda key, message: add(f"{path}.{key}", message))
        return options

    def check(self, add: Callable[[str, str], None]) -> None:
        """Checks across options (add(option, message)); each option's own is declared.
        Values may have failed their own check, so test their types first."""

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
