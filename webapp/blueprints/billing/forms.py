"""Forms of the money pages: a ledger entry, a budget, the billing settings. They check
shape only; amounts, thresholds and time zones are judged by the billing services."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from webapp.forms import VersionField, choices
from webapp.models import Budget, BudgetPeriod, BudgetUnit, EntryKind

NO_CONTROL_CHARS = Regexp(r"^[^\x00-\x1f\x7f]*\Z", message="Remove the control characters.")
ENTRY_KINDS = [
    (EntryKind.GRANT.value, "Grant (adds credits)"),
    (EntryKind.ADJUSTMENT.value, "Adjustment (either sign)"),
]
PERIODS = [
    (BudgetPeriod.DAILY.value, "Daily"),
    (BudgetPeriod.MONTHLY.value, "Monthly"),
    (BudgetPeriod.TOTAL.value, "Total (never resets)"),
]
UNITS = [(BudgetUnit.USD.value, "USD"), (BudgetUnit.CREDITS.value, "Credits")]
ENFORCEMENT = [("hard", "Hard: block calls over the limit"), ("soft", "Soft: warn at thresholds")]


class CreditForm(FlaskForm):
    """Grant or adjust credits, with the reason that goes into the ledger and the audit log."""

    kind = SelectField("Kind", choices=choices(ENTRY_KINDS), default=EntryKind.GRANT.value)
    amount = StringField(
        "Amount (credits)",
        validators=[InputRequired("Enter an amount."), Length(max=40)],
        render_kw={"inputmode": "decimal", "placeholder": "e.g. 25 or -5.5"},
    )
    note = StringField(
        "Reason",
        validators=[
            InputRequired("Say why: it is kept in the ledger."),
            Length(max=500),
            NO_CONTROL_CHARS,
        ],
        render_kw={"placeholder": "e.g. monthly allowance"},
    )


class BudgetForm(FlaskForm):
    """Create or edit a budget. ``version`` is required when editing (see ``budget_form``)."""

    period = SelectField("Period", choices=choices(PERIODS), default=BudgetPeriod.MONTHLY.value)
    unit = SelectField("Unit", choices=choices(UNITS), default=BudgetUnit.USD.value)
    amount = StringField(
        "Limit",
        validators=[InputRequired("Enter a limit."), Length(max=40)],
        render_kw={"inputmode": "decimal", "placeholder": "e.g. 100"},
    )
    enforcement = SelectField("Enforcement", choices=choices(ENFORCEMENT), default="hard")
    thresholds = StringField(
        "Warn at (%)",
        validators=[Optional(), Length(max=60), NO_CONTROL_CHARS],
        default="50, 80, 100",
        render_kw={"placeholder": "50, 80, 100"},
    )


class BudgetEditForm(BudgetForm):
    version = VersionField()


def budget_prefix(budget_id: int | None) -> str:
    return f"budget-{budget_id}" if budget_id else "new-budget"


def budget_form(budget: Budget | None = None, **kwargs: Any) -> BudgetForm:
    """An empty create form, or an edit form filled with the budget's values."""
    if budget is None:
        return BudgetForm(prefix=budget_prefix(None), **kwargs)
    if kwargs.get("formdata", True) is not None:
        return BudgetEditForm(prefix=budget_prefix(budget.id), **kwargs)
    return BudgetEditForm(
        prefix=budget_prefix(budget.id),
        period=budget.period,
        unit=budget.unit,
        amount=f"{budget.amount.normalize():f}",
        enforcement="hard" if budget.hard else "soft",
        thresholds=", ".join(str(t) for t in budget.thresholds or []),
        version=budget.version,
        **kwargs,
    )


class BillingSettingsForm(FlaskForm):
    credits_required = BooleanField("Managed calls need credits")
    timezone = StringField(
        "Time zone of budget periods",
        validators=[
            InputRequired("Enter a time zone, e.g. UTC."),
            Length(max=64),
            NO_CONTROL_CHARS,
        ],
        render_kw={"list": "billing-zones", "autocomplete": "off"},
    )
