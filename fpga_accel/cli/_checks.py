"""Checks of numeric command-line options, made before any slow step: each error names the flag."""
from __future__ import annotations

import math

from ..errors import InputError
from ..procs import valid_seconds


def at_least(value: int | None, flag: str, low: int = 1) -> None:
    """``value`` (when given) must be an integer of at least ``low``."""
    if value is not None and value < low:
        raise InputError(f"{flag} must be at least {low}, got {value}")


def seconds(value: float | None, flag: str = "--timeout") -> None:
    """A time limit (when given) must be a positive, finite number of seconds."""
    if value is not None and not valid_seconds(value):
        raise InputError(f"{flag} must be a positive, finite number of seconds (leave it out for no limit), "
                         f"got {value}")


def fraction_of(value: float | None, flag: str, low: float, high: float) -> None:
    """``value`` (when given) must be a number in [low, high]."""
    if value is not None and not low <= value <= high:
        upper = "" if high == math.inf else f" to {high:g}"
        raise InputError(f"{flag} must be a number from {low:g}{upper}, got {value}")
