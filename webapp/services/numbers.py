"""Decimal numbers people type — credit amounts, budgets, prices, multipliers — read one way
everywhere: finite, within the field's range, with at most the field's decimals, and returned
in plain notation.

Python's ``Decimal`` takes ``1E+999999999``, ``sNaN``, ``1_000`` and Arabic-Indic digits, and
then raises ``Overflow`` or ``InvalidOperation`` from ``abs()`` or ``quantize()``, or formats
``0E+999999999`` as a billion zeros. Here the text is matched first (ASCII digits, an
exponent of at most four digits, at most 40 characters), so the decimal module only ever sees
numbers it can compare and format.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

MAX_CHARS = 40
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?", re.ASCII)
WHOLE = re.compile(r"[+-]?\d{1,18}", re.ASCII)
ANY_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class NumberError(ValueError):
    """Why the text is not an acceptable number. ``kind`` (number, finite, range or places)
    lets a caller word the message its own way."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _text(raw: Any) -> str:
    if isinstance(raw, bool) or raw is None:
        raise NumberError("number", "Enter a number, such as 12.5.")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise NumberError("finite", "Enter a finite number, not NaN or infinity.")
        return repr(raw)
    if isinstance(raw, int | Decimal):
        return str(raw)
    if not isinstance(raw, str):
        raise NumberError("number", "Enter a number, such as 12.5.")
    return raw.strip()


def parse_decimal(raw: Any, *, low: Decimal | int, high: Decimal | int, places: int) -> Decimal:
    """``raw`` (text, or a JSON number) as a Decimal from ``low`` to ``high`` with at most
    ``places`` decimals (trailing zeros do not count), in plain notation without trailing
    zeros (``1e3`` is 1000, ``2.50`` is 2.5, ``-0`` is 0); NumberError if not."""
    text = _text(raw)
    if len(text) > MAX_CHARS or not NUMBER.fullmatch(text):
        raise _not_a_number(text, low, high, places)
    value = Decimal(text)  # finite, exponent within ±9999: comparisons cannot overflow
    if not low <= value <= high:
        raise _out_of_range(low, high)
    if value.is_zero():
        return Decimal(0)
    decimals = _decimals(value)
    if decimals > places:
        raise NumberError("places", f"Use at most {places} decimals.")
    return value.quantize(Decimal(1).scaleb(-decimals))


def parse_whole(raw: Any, *, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``: a JSON integer, or ASCII digits (no ``1_000``,
    no Arabic-Indic digits, at most 18 of them); NumberError if not."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise NumberError("number", "Enter a whole number.")
    if isinstance(raw, str):
        text = raw.strip()
        if not WHOLE.fullmatch(text):
            big = text.lstrip("+-").isdecimal() and text.isascii()
            raise NumberError("range" if big else "number", "Enter a whole number.")
        raw = int(text)
    if not low <= raw <= high:
        raise _out_of_range(low, high)
    return raw


def _out_of_range(low: Decimal | int, high: Decimal | int) -> NumberError:
    return NumberError("range", f"Enter a number from {low:,} to {high:,}.")


def _not_a_number(text: str, low: Decimal | int, high: Decimal | int, places: int) -> NumberError:
    """Why ``text`` was refused: not a number, or a number far too large or too precise
    (``1E+999999999``, 400 digits), said as the range or the decimals it should have."""
    if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        return NumberError("finite", "Enter a finite number, not NaN or infinity.")
    if len(text) <= 1000 and ANY_NUMBER.fullmatch(text):
        if Decimal(text).adjusted() >= 0:  # the constructor is exact; only arithmetic overflows
            return _out_of_range(low, high)
        return NumberError("places", f"Use at most {places} decimals.")
    return NumberError("number", "Enter a number, such as 12.5.")


def _decimals(value: Decimal) -> int:
    """Digits after the point that count (``1.50`` has one), exactly, without rounding."""
    _sign, digits, exponent = value.as_tuple()
    significant = len(tuple(digits)) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(int(exponent) + significant))
