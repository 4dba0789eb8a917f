"""The account page's forms: call mode, preferred model, password."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectField
from wtforms.validators import EqualTo, InputRequired, Length

from webapp.forms import choices
from webapp.models import Mode
from webapp.services.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

MODE_CHOICES = [
    (Mode.MANAGED.value, "Managed — my organization's keys serve my calls; credits are charged."),
    (Mode.BYOK.value, "Bring your own key — only my personal keys serve my calls; no credits."),
]


class ModeForm(FlaskForm):
    mode = RadioField(
        "How your calls are paid for", choices=choices(MODE_CHOICES), validators=[InputRequired()]
    )


class PreferenceForm(FlaskForm):
    model = SelectField(
        "Preferred model",
        default="",
        description="Used for your calls unless a feature or the call says otherwise.",
    )


class PasswordChangeForm(FlaskForm):
    """The member's own password: the current one, and the new one twice."""

    current_password = PasswordField(
        "Current password",
        validators=[InputRequired(), Length(max=500)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters, not one of the most common.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[InputRequired(), EqualTo("new_password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
