"""The form for one provider credential, shared by the admin, org and personal key pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, StringField, URLField
from wtforms.validators import Length, Optional

from webapp.forms import VersionField


class CredentialForm(FlaskForm):
    """Add or edit one key. On edit an empty key field keeps the stored key."""

    label = StringField("Label", default="default", validators=[Optional(), Length(max=100)])
    secret = PasswordField(
        "API key",
        validators=[Optional(), Length(max=4096)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    base_url = URLField(
        "Base URL override",
        validators=[Optional(), Length(max=500)],
        render_kw={"placeholder": "https://…/v1"},
    )
    expires_on = DateField("Expires on", validators=[Optional()])


class CredentialEditForm(CredentialForm):
    version = VersionField()
