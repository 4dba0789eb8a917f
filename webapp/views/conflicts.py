"""A 409 on a versioned edit form: keep what this admin typed, show what is saved now.

Two admins edit the same record; the second one's save finds a newer version. Discarding
what they typed loses work, and silently overwriting loses the first admin's: instead the
form keeps the typed values, each field that someone else changed shows the saved value
beside it (``field.saved_meanwhile``, shown by ``_macros/forms.html``), and the version moves
to the saved one so that saving again applies these values on purpose.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

SKIP = ("csrf_token", "version")
EMPTY = "(empty)"


def shown(field: Any) -> str:
    """A field's value as a person reads it: a choice's label, yes/no, or the text."""
    if field.type == "BooleanField":
        return "yes" if field.data else "no"
    if field.type in ("SelectField", "SelectMultipleField"):
        labels = {str(value): label for value, label, *_ in field.iter_choices()}
        if field.type == "SelectMultipleField":
            picked = [labels.get(str(v), str(v)) for v in field.data or []]
            return ", ".join(picked) or EMPTY
        return labels.get(str(field.data if field.data is not None else ""), "") or EMPTY
    text = field._value()
    return str(text).strip() or EMPTY


def _same(a: str, b: str) -> bool:
    """Equal as people read them: 1.2 and 1.20 are the same number."""
    try:
        return Decimal(a) == Decimal(b)
    except (InvalidOperation, ValueError):
        return a == b


def keep_typed(form: Any, saved: Any, message: str) -> Any:
    """``form`` (as posted) marked with the values in ``saved`` (a form filled from the record
    as stored now) wherever they differ, its version moved to the stored one."""
    changed = []
    for name, field in form._fields.items():
        if name in SKIP or field.type in ("HiddenField", "CSRFTokenField", "PasswordField"):
            continue
        other = saved._fields.get(name)
        if other is None or (not field.raw_data and field.type != "BooleanField"):
            continue  # not on this form (a checkbox left unticked is still a value)
        now = shown(other)
        if not _same(now, shown(field)):
            field.saved_meanwhile = now
            changed.append(str(field.label.text))
    if "version" in form._fields and "version" in saved._fields:
        form.version.data = saved.version.data
        form.version.raw_data = [str(saved.version.data)]  # what the hidden input renders
    if changed:
        detail = (
            f" Your values are kept; the saved value is shown under {', '.join(changed)}."
            " Save again to replace it with yours, or cancel."
        )
    else:
        detail = " The saved values match what you typed; save again to confirm."
    form.form_errors.append(message + detail)
    return form
