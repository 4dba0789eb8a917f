"""The shared base of every configuration record's schema, and the one translation of schema
errors into field messages.

Each domain defines its records once (``services/catalog/schemas.py``,
``services/settings/schemas.py``, ``services/accounts/schemas.py``); forms, the services,
config import and export and the seed all validate through them, so a rule added to a
schema holds everywhere. Rules that need the database (uniqueness, references, the SSRF
guard) stay in the services, which call ``validate`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from webapp.services.errors import ValidationError
from webapp.services.numbers import NumberError, parse_decimal

R = TypeVar("R", bound=BaseModel)


class Record(BaseModel):
    """A configuration record's fields: strict types (``"yes"`` is not a boolean, ``1.5`` not a
    token count), text stripped, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def money(places: int, high: int) -> Any:
    """A decimal from 0 to ``high`` with at most ``places`` decimals (``numbers``: finite,
    bounded, plain notation), from text ("0.15") or a JSON number; empty text is None."""
    messages = {
        "number": 'Must be a decimal number, such as "0.15".',
        "finite": "Must be a finite number.",
        "range": f"Must be a number from 0 to {high:,}.",
        "places": f"At most {places} decimal places.",
    }

    def parse(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return parse_decimal(value, low=0, high=high, places=places)
        except NumberError as exc:
            raise ValueError(messages[exc.kind]) from None

    number = Annotated[Decimal, Field(decimal_places=places, ge=0, le=high)]
    return Annotated[number | None, BeforeValidator(parse)]


def whole(low: int, high: int) -> Any:
    """A whole number from ``low`` to ``high``, or None (``1.5`` and ``"5"`` are refused)."""

    def in_range(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"Must be a whole number from {low:,} to {high:,}, or empty.")
        return value

    return Annotated[Annotated[int, AfterValidator(in_range)] | None, Field(default=None)]


def optional_text(max_length: int) -> Any:
    """Text of at most ``max_length`` characters; empty means None."""
    return Annotated[
        Annotated[str, Field(max_length=max_length)] | None, AfterValidator(lambda v: v or None)
    ]


def required_text(max_length: int) -> Any:
    return Annotated[str, Field(min_length=1, max_length=max_length)]


Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
SLUG_HELP = "Lowercase letters, digits, '-' and '_', starting with a letter or digit (max 64)."


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


MESSAGES = {
    "missing": "Required.",
    "bool_type": "Must be true or false.",
    "bool_parsing": "Must be true or false.",
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "int_from_float": "Must be a whole number.",
    "string_type": "Must be text.",
    "list_type": "Must be a list.",
    "dict_type": "Must be a mapping of names to values.",
    "decimal_type": 'Must be a decimal number, such as "0.15".',
    "decimal_parsing": 'Must be a decimal number, such as "0.15".',
    "decimal_max_places": "At most {decimal_places} decimal places.",
    "string_too_long": "At most {max_length} characters.",
    "too_long": "At most {max_length} items.",
    "finite_number": "Must be a finite number.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than_equal": "Must be at most {le}.",
    "literal_error": "Must be one of {expected}.",
    "enum": "Must be one of {expected}.",
    "extra_forbidden": "Is not a field here.",
    "string_pattern_mismatch": SLUG_HELP,
}


def message(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence a person can act on."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "Required."
    template = MESSAGES.get(kind)
    if template is None:
        return str(error["msg"]).rstrip(".") + "."
    return template.format(**{k: _number(v) for k, v in ctx.items()})


def field_errors(exc: pydantic.ValidationError) -> dict[str, str]:
    """``{field: message}``, the first message of each field (nested errors at their top)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        errors.setdefault(field, message(error))
    return errors


def validate(
    schema: type[R], data: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> R:
    """``data`` as a ``schema`` record, or a ValidationError with a message per field.

    ``current`` is the stored record's values, for rules that only apply to a change."""
    try:
        return schema.model_validate(dict(data), context=dict(current or {}))
    except pydantic.ValidationError as exc:
        raise ValidationError(field_errors(exc)) from None


def value_check(kind: Any) -> Callable[[Any], Any]:
    """A check of one value against a schema type (a record's identity, say), raising
    ValueError with the message config import puts at the value's path."""
    adapter = TypeAdapter(kind, config=ConfigDict(strict=True, str_strip_whitespace=True))

    def check(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            text = message(exc.errors()[0]).rstrip(".")
            raise ValueError(text[:1].lower() + text[1:]) from None

    return check
