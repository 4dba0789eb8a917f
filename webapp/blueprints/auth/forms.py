"""Sign-in and password-confirmation forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=500)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device")


class ReauthForm(FlaskForm):
    """``/reauth``: the password again, before a dangerous action."""

    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=500)],
        render_kw={"autocomplete": "current-password", "autofocus": True},
    )
