"""The form for one provider credential, shared by the admin, org and personal key pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, StringField, URLField
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
    # Without a new key, a key whose address moved stays paused unless this is ticked.
    confirm_origin = BooleanField("Send the existing key to the new address")


class CredentialEditForm(CredentialForm):
    version = VersionField()
