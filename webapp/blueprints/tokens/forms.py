"""Token forms: create (personal or service, with an optional budget) and the admin filters."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from webapp.forms import IntegerInput, choices, coerce_optional_id
from webapp.models import Organization, TokenScope
from webapp.services.billing.budgets import BudgetInput
from webapp.services.tokens.manage import STATES
from webapp.services.tokens.rules import TokenInput

NO_CONTROL_CHARS = Regexp(r"^[^\x00-\x1f\x7f]*\Z", message="Remove the control characters.")
SCOPES = [
    (TokenScope.GATEWAY.value, "Gateway only (/v1)"),
    (TokenScope.READ_ONLY.value, "Gateway and read-only management API"),
    (TokenScope.FULL.value, "Gateway and full management API"),
]


class TokenForm(FlaskForm):
    """A new token. Shape only: ranges, patterns and expiry are the service's rules."""

    name = StringField(
        "Name",
        validators=[InputRequired("Give the token a name."), Length(max=100)],
        render_kw={"placeholder": "e.g. deploy bot", "autocomplete": "off"},
    )
    org_id = SelectField("Runs in", coerce=coerce_optional_id, validate_choice=True)
    scope = SelectField(
        "Scope",
        choices=choices(SCOPES),
        default=TokenScope.GATEWAY.value,
        description="Read-only and full reach the management API with your powers: creating "
        "one asks for your password unless you signed in within the last 15 minutes. Changing "
        "your password or signing out everywhere revokes them.",
    )
    allowed_models = TextAreaField(
        "Allowed models",
        validators=[Optional(), Length(max=5000)],
        description="Empty: every model the owner may use. Else ids or patterns, e.g. openai/*",
        render_kw={"rows": 2, "placeholder": "openai/* anthropic/claude-haiku-4-5"},
    )
    requests_per_minute = IntegerInput("Requests per minute", validators=[Optional()])
    tokens_per_minute = IntegerInput("Tokens per minute", validators=[Optional()])
    expires_in_days = IntegerInput(
        "Expires in (days)", validators=[Optional()], description="Empty: never expires."
    )
    budget_amount = StringField(
        "Amount",
        validators=[Optional(), Length(max=30)],
        description="Optional: calls stop when this token has spent it.",
        render_kw={"inputmode": "decimal", "placeholder": "e.g. 10"},
    )
    budget_unit = SelectField(
        "Unit", choices=choices([("usd", "USD"), ("credits", "Credits")]), default="usd"
    )
    budget_period = SelectField(
        "Per",
        choices=choices([("monthly", "Month"), ("daily", "Day"), ("total", "Lifetime")]),
        default="monthly",
    )
    budget_hard = BooleanField("Refuse calls over the budget", default=True)

    def offer_orgs(self, orgs: list[Organization] | None) -> TokenForm:
        """Personal tokens choose one of the member's orgs; service tokens have theirs."""
        if orgs is None:
            del self.org_id
        else:
            self.org_id.choices = choices(
                [("", "No organization"), *((str(o.id), o.name) for o in orgs)]
            )
        return self

    def token_input(self) -> TokenInput:
        return TokenInput(
            name=self.name.data or "",
            scope=self.scope.data or "",
            allowed_models=self.allowed_models.data,
            requests_per_minute=self.requests_per_minute.data,
            tokens_per_minute=self.tokens_per_minute.data,
            expires_in_days=self.expires_in_days.data,
        )

    def budget_input(self) -> BudgetInput | None:
        if not (self.budget_amount.data or "").strip():
            return None
        return BudgetInput(
            period=self.budget_period.data or "",
            unit=self.budget_unit.data or "",
            amount=self.budget_amount.data or "",
            hard=bool(self.budget_hard.data),
        )


class TokenFilterForm(FlaskForm):
    """The admin list's filters (a GET form: nothing changes, no CSRF)."""

    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=100), NO_CONTROL_CHARS],
        render_kw={"placeholder": "Name, prefix, owner or org", "aria-label": "Search"},
    )
    state = SelectField(
        "State",
        choices=choices((s, s.title()) for s in STATES),
        default="all",
        render_kw={"aria-label": "State"},
    )
    page = IntegerInput("Page", validators=[Optional(), NumberRange(min=1)])

    def link_args(self) -> dict[str, str]:
        return {
            f.name: f.raw_data[0] for f in self if f.name != "page" and f.raw_data and f.raw_data[0]
        }
