"""Forms of the admin credentials page (allowed private hosts)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Optional


class AllowedHostForm(FlaskForm):
    host = StringField(
        "Host",
        validators=[InputRequired(), Length(max=255)],
        render_kw={"placeholder": "localhost:11434"},
    )
    note = StringField("Note", validators=[Optional(), Length(max=300)])
