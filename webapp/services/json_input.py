"""JSON typed by people (extra options, extra headers): standard JSON only.

Python's ``json`` accepts ``NaN`` and ``Infinity``, turns ``1e999`` into infinity and
recurses as deep as the text nests; PostgreSQL's JSON types and every provider API refuse the
first three, and the last one crashes. Each is a message at the field instead.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 20
MAX_INT_DIGITS = 18  # fits a signed 64-bit integer, which any JSON reader can hold


class JSONInputError(ValueError):
    """The text is not acceptable JSON; the message says why, for the person who typed it."""


def _constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not a JSON number; give a finite number.")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONInputError(f"The number {text[:20]} is too large.")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONInputError(f"The number {text[:20]}… has too many digits.")
    return int(text)


def check_value(value: Any, depth: int = 0) -> None:
    """Refuse what JSON cannot carry: non-finite numbers, oversized integers, deep nesting."""
    if depth > MAX_DEPTH:
        raise JSONInputError(f"Nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, dict):
        for item in value.values():
            check_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_value(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise JSONInputError("NaN and infinity are not JSON numbers; give a finite number.")
    elif isinstance(value, int) and abs(value) >= 10**MAX_INT_DIGITS:
        raise JSONInputError("A number has too many digits.")


def parse_json(text: str) -> Any:
    """The value of ``text``, or JSONInputError with a message a person can act on."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from None
    except RecursionError:
        raise JSONInputError(f"Nested more than {MAX_DEPTH} levels deep.") from None
    check_value(value)
    return value
