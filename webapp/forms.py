"""Helpers shared by the forms of every area."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms.fields.choices import SelectChoice


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """``[(value, label), …]`` as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def int_or_none(value: Any) -> int | None:
    """A hidden version field's value, or None when missing or tampered with."""
    return int(value) if str(value or "").isdigit() else None


def attach_errors(form: Any, errors: dict[str, str]) -> None:
    """Put a service's field errors on the form's fields (unknown fields: form-level)."""
    for name, message in errors.items():
        field = form._fields.get(name)
        (field.errors if field is not None else form.form_errors).append(message)


MAX_ID = 2**31 - 1  # ids are 32-bit in every table people can address by URL


def bounded_id(value: Any) -> int | None:
    """A record id from a query string, or None: never an integer the database cannot hold."""
    text = str(value or "")
    return int(text) if text.isdigit() and int(text) <= MAX_ID else None
