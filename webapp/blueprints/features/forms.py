"""Feature forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms import PickerField, VersionField, choices
from webapp.services.settings.fields import FIELDS


class FeatureForm(FlaskForm):
    """Create (with owner and slug) or edit (name, description, profile, enabled)."""

    owner = PickerField("Owner", kind="orgs")
    slug = StringField(
        "Slug",
        validators=[Optional(), Length(max=64)],
        render_kw={"placeholder": "summarize", "autocomplete": "off"},
    )
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )
    profile_name = SelectField("Profile", default="")
    enabled = BooleanField("Enabled (calls may use this feature)", default=True)
    locked_fields = SelectMultipleField(
        "Locked settings",
        choices=choices((f.name, f.label) for f in FIELDS),
        validators=[Optional()],
        description="Users and per-call overrides cannot change these for this feature.",
        render_kw={"size": 6},
    )
    system_prompt = TextAreaField(
        "System prompt",
        validators=[Optional(), Length(max=20_000)],
        description="Put before every call's messages as the first system message.",
        render_kw={"rows": 4},
    )

    def fill_choices(self, profile_names: list[str], *, global_owner: bool) -> FeatureForm:
        """Profiles to point at; without ``global_owner`` (org admins) an org is required."""
        if not global_owner and self.owner is not None:  # the edit form has no owner
            self.owner.validators = [InputRequired("Choose one of your organizations.")]
        self.profile_name.choices = choices([("", "No profile")] + [(n, n) for n in profile_names])
        return self


class FeatureEditForm(FeatureForm):
    owner = None  # type: ignore[assignment]  # fixed at creation
    version = VersionField()


class ProfileForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[InputRequired(), Length(max=64)],
        render_kw={"list": "profile-suggestions", "placeholder": "fast"},
    )
    description = StringField("Description", validators=[Optional(), Length(max=300)])
