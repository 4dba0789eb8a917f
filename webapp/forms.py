"""Helpers shared by the forms of every area."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import IntegerField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, StopValidation
from wtforms.widgets import HiddenInput


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """``[(value, label), …]`` as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def int_or_none(value: Any) -> int | None:
    """A hidden version field's value, or None when missing or tampered with."""
    return int(value) if str(value or "").isdigit() else None


def attach_errors(form: Any, errors: dict[str, str], aliases: dict[str, str] | None = None) -> None:
    """Put a service's field errors on the form's fields: the one way every view does it.
    ``aliases`` maps a service's name to the form's (``""``: the whole form); an unknown
    name, or ``""``, is a form-level error."""
    for name, message in errors.items():
        name = (aliases or {}).get(name, name)
        field = form._fields.get(name) if name else None
        (field.errors if field is not None else form.form_errors).append(message)


MAX_ID = 2**31 - 1  # ids are 32-bit in every table people can address by URL
MAX_INT_DIGITS = 18
OUTDATED = "This form is incomplete or out of date. Reload the page and try again."


class IntegerInput(IntegerField):
    """An integer field for numbers that fit 64 bits. WTForms' NumberRange checks a number
    with ``math.isnan``, which cannot turn a 400-digit integer into a float (a 500)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > MAX_INT_DIGITS:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)


class VersionField(IntegerInput):
    """The record version an edit form was loaded at, hidden. Required and numeric: a save
    without it is a 422 at this field instead of a save that skips the concurrency check."""

    widget = HiddenInput()

    def __init__(self, label: str = "Version", **kwargs: Any) -> None:
        validators = [InputRequired(OUTDATED), NumberRange(1, MAX_ID, OUTDATED)]
        super().__init__(label, validators=validators, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:  # "abc", "1.5", five thousand digits: one message for all
            raise ValueError(OUTDATED) from None


def bounded_id(value: Any) -> int | None:
    """A record id from a query string, or None: never an integer the database cannot hold."""
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) <= 10 and int(text) <= MAX_ID else None


def coerce_id(value: Any) -> int:
    """A select field's record id; anything else is an invalid choice, not a query."""
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if (ident := bounded_id(value)) is None:
        raise ValueError("not a record id")
    return ident


def coerce_optional_id(value: Any) -> int | None:
    """``coerce_id``, with the empty choice meaning none."""
    return coerce_id(value) if value not in (None, "") else None


class PickerField(StringField):
    """A user, organization or feature chosen with the searchable picker
    (``templates/_macros/picker.html``): its id (features: its slug) in a hidden input.

    Validation checks the record exists and the signed-in user may pick it; ``display`` is
    the text the picker shows for the current value."""

    widget = HiddenInput()
    # An id (int) for users and orgs, a slug (str) for features, None when empty: which one
    # depends on ``kind``, so StringField's ``str | None`` does not describe it.
    data: Any

    def __init__(self, label: str | None = None, validators: Any = None, *, kind: str, **kw: Any):
        super().__init__(label, validators, **kw)
        self.kind = kind
        self._display: str | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        self._display = None
        if self.kind == "features" or not raw:
            self.data = raw or None
        elif (ident := bounded_id(raw)) is not None:
            self.data = ident
        else:
            self.data = None
            raise ValueError(f"Choose {self._noun()} from the list.")

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)

    def _noun(self, article: bool = True) -> str:
        noun = {"users": "user", "orgs": "organization"}.get(self.kind, "feature")
        return (("an " if noun[0] == "o" else "a ") + noun) if article else noun

    def _label(self) -> str | None:
        from flask_login import current_user

        from webapp.services.search.pickers import label_for

        return label_for(current_user, self.kind, self.data)

    def pre_validate(self, form: Any) -> None:
        if self.data in (None, ""):
            return
        self._display = self._label()
        if self._display is None:
            raise StopValidation(f"No such {self._noun(False)}: choose one from the list.")

    @property
    def display(self) -> str:
        if self._display is None:
            self._display = self._label() if self.data not in (None, "") else ""
        return self._display or ""
