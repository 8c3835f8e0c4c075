"""Declared options of registered algorithms (samplers, pruners), checked at submission."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


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
