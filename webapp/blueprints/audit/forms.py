"""Audit log filters (a GET form: no CSRF, nothing changes)."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import DateField, Field, SearchField, SelectField
from wtforms.validators import Length, NumberRange, Optional, Regexp
from wtforms.validators import ValidationError as FieldError

from webapp.forms import IntegerInput, choices

# PostgreSQL refuses NUL in text, so control characters are refused here, not with a 500.
NO_CONTROL_CHARS = Regexp(r"^[^\x00-\x1f\x7f]*\Z", message="Remove the control characters.")


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = SearchField(
        "Actor",
        validators=[Optional(), Length(max=254), NO_CONTROL_CHARS],
        render_kw={"placeholder": "Email contains"},
    )
    target_type = SelectField("Target type", choices=choices([("", "Any type")]), default="")
    target = SearchField(
        "Target",
        validators=[Optional(), Length(max=300), NO_CONTROL_CHARS],
        render_kw={"placeholder": "Id, or name starting with"},
    )
    action = SelectField("Action", choices=choices([("", "Any action")]), default="")
    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("Until (UTC, inclusive)", validators=[Optional()])
    # Keyset cursors: the page older than event ``before``, or newer than event ``after``.
    before = IntegerInput("Older than", validators=[Optional(), NumberRange(min=1)])
    after = IntegerInput("Newer than", validators=[Optional(), NumberRange(min=1)])

    def offer(self, target_types: Iterable[str], actions: Iterable[str]) -> AuditFilterForm:
        """Limit the selects to the values present in the log."""
        self.target_type.choices = choices([("", "Any type"), *((t, t) for t in target_types)])
        self.action.choices = choices([("", "Any action"), *((a, a) for a in actions)])
        return self

    def validate_until(self, field: Field) -> None:
        if self.since.data and field.data and field.data < self.since.data:
            raise FieldError("The end date is before the start date.")

    def link_args(self) -> dict[str, str]:
        """The non-empty filters as URL arguments, for page links."""
        return {
            f.name: f.raw_data[0]
            for f in self
            if f.name not in ("before", "after") and f.raw_data and f.raw_data[0]
        }
