"""An admin links a company identity to a user."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from webapp.services.accounts import sso


class LinkIdentityForm(FlaskForm):
    provider = SelectField("Identity provider", validators=[DataRequired()])
    subject = StringField(
        "Subject",
        validators=[DataRequired(), Length(max=255)],
        description="The provider's id for the person (the `sub` claim), not their email.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.provider.choices = [(p.name, p.label) for p in sso.providers()]
