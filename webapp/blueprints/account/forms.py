"""The call-mode form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField
from wtforms.validators import InputRequired

from webapp.forms import choices
from webapp.models import Mode

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
