"""Forms of the users page: filters (GET), the inline row editor and "add a user"."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SearchField,
    SelectField,
    StringField,
)
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from webapp.forms import IntegerInput, VersionField, choices
from webapp.models import Mode, Role, User
from webapp.services.accounts.passwords import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [(Role.ADMIN.value, "Admin"), (Role.MEMBER.value, "Member")]
MODE_CHOICES = [(Mode.MANAGED.value, "Managed"), (Mode.BYOK.value, "Bring your own key")]
STATUS_CHOICES = [("active", "Active"), ("deactivated", "Deactivated")]
# PostgreSQL refuses NUL in text, so control characters are refused here, not with a 500.
NO_CONTROL_CHARS = Regexp(r"^[^\x00-\x1f\x7f]*\Z", message="Remove the control characters.")


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=100), NO_CONTROL_CHARS],
        render_kw={"placeholder": "Search email or name", "aria-label": "Search email or name"},
    )
    role = SelectField(
        "Role",
        choices=choices([("", "Any role"), *ROLE_CHOICES]),
        default="",
        render_kw={"aria-label": "Role"},
    )
    status = SelectField(
        "Status",
        choices=choices([("", "Any status"), *STATUS_CHOICES]),
        default="",
        render_kw={"aria-label": "Status"},
    )
    page = IntegerInput("Page", validators=[Optional(), NumberRange(min=1)])

    def link_args(self) -> dict[str, str]:
        """The non-empty filters as URL arguments, for page links and the table's refresh."""
        return {
            f.name: f.raw_data[0] for f in self if f.name != "page" and f.raw_data and f.raw_data[0]
        }


class UserEditForm(FlaskForm):
    """One row in edit mode. ``version`` catches a save from a form someone else outdated."""

    role = SelectField("Role", choices=choices(ROLE_CHOICES), validators=[InputRequired()])
    mode = SelectField("Mode", choices=choices(MODE_CHOICES), validators=[InputRequired()])
    active = SelectField("Status", choices=choices(STATUS_CHOICES), validators=[InputRequired()])
    version = VersionField()


def edit_form_for(user: User, **kwargs: Any) -> UserEditForm:
    """The row editor filled with the user's current values."""
    return UserEditForm(
        formdata=None,
        prefix=edit_prefix(user.id),
        role=user.role,
        mode=user.mode,
        active="active" if user.active else "deactivated",
        version=user.version,
        **kwargs,
    )


def edit_prefix(user_id: int) -> str:
    return f"user-{user_id}"


class UserCreateForm(FlaskForm):
    """Add a user with a password typed twice, or a generated one shown once."""

    email = EmailField("Email", validators=[InputRequired(), Length(max=254), NO_CONTROL_CHARS])
    display_name = StringField(
        "Display name", validators=[Optional(), Length(max=120), NO_CONTROL_CHARS]
    )
    role = SelectField("Role", choices=choices(ROLE_CHOICES), default=Role.MEMBER.value)
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(max=200)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters, not one of the most common.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    generate = BooleanField(
        "Generate a password instead (shown once; the user must change it at first sign-in)"
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """Exactly one way to set the password: typed twice, or generated."""
        valid = super().validate(extra_validators)
        if self.generate.data and self.password.data:
            self.password.errors.append("Leave the password empty to generate one.")
            return False
        if not self.generate.data and not self.password.data and not self.password.errors:
            self.password.errors.append("Type a password twice, or tick “Generate a password”.")
            return False
        return valid
