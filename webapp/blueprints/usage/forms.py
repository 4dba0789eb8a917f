"""The usage filters (a GET form: no CSRF, nothing changes). Shapes only; the service checks
the values (``services/usage/filters.make_filters``)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField
from wtforms.validators import Length, NumberRange, Optional

from webapp.forms import IntegerInput, choices
from webapp.models import CallStatus, Mode
from webapp.services.usage.filters import CUSTOM, PERIODS

ANY = [("", "Any")]


class UsageFilterForm(FlaskForm):
    class Meta:
        csrf = False

    period = SelectField(
        "Period", choices=choices([*PERIODS.items(), (CUSTOM, "Custom range")]), default="30d"
    )
    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("Until (UTC, inclusive)", validators=[Optional()])
    model = SelectField("Model", choices=choices(ANY), validate_choice=False)
    provider = SelectField("Provider", choices=choices(ANY), validate_choice=False)
    org = SelectField("Organization", choices=choices(ANY), validate_choice=False)
    feature = SelectField("Feature", choices=choices(ANY), validate_choice=False)
    user = IntegerInput("User id", validators=[Optional()])
    token = IntegerInput("Token id", validators=[Optional()])
    mode = SelectField(
        "Mode", choices=choices([*ANY, *((m.value, m.value) for m in Mode)]), default=""
    )
    status = SelectField(
        "Status", choices=choices([*ANY, *((s.value, s.value) for s in CallStatus)]), default=""
    )
    after = HiddenField(validators=[Optional(), Length(max=60)])

    DIMENSION_FIELDS = ("model", "provider", "org", "feature", "user", "token", "mode", "status")

    def offer(self, options: dict[str, list[tuple[str, str]]]) -> UsageFilterForm:
        for name, pairs in options.items():
            self[name].choices = choices([*ANY, *pairs])
        return self

    def values(self) -> dict[str, Any]:
        return {name: self[name].data for name in self.DIMENSION_FIELDS}

    def period_args(self) -> dict[str, str]:
        """The period as URL arguments (for links that keep it)."""
        args = {"period": self.period.data or "30d"}
        if args["period"] == CUSTOM:
            args.update(since=_raw(self.since), until=_raw(self.until))
        return args


class MemberUsageForm(FlaskForm):
    class Meta:
        csrf = False

    period = UsageFilterForm.period
    since = UsageFilterForm.since
    until = UsageFilterForm.until
    after = UsageFilterForm.after

    period_args = UsageFilterForm.period_args


def _raw(field: Any) -> str:
    return str((field.raw_data or [""])[0])


class RetentionForm(FlaskForm):
    body_days = IntegerInput(
        "Keep request and response bodies for (days)",
        validators=[Optional(), NumberRange(min=1, max=36_500)],
        render_kw={"placeholder": "as long as the record"},
    )
    record_days = IntegerInput(
        "Keep usage records for (days)",
        validators=[Optional(), NumberRange(min=1, max=36_500)],
        render_kw={"placeholder": "forever"},
    )
