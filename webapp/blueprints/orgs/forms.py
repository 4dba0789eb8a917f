"""Organization forms: create, details, members, profiles."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms import VersionField, choices
from webapp.services.catalog import snapshot as catalog_snapshot

ORG_ROLES = [("member", "Member"), ("org_admin", "Org admin")]


class OrgCreateForm(FlaskForm):
    slug = StringField(
        "Slug",
        validators=[InputRequired(), Length(max=64)],
        render_kw={"placeholder": "acme", "autocomplete": "off"},
    )
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class OrgForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )
    allowed_models = SelectMultipleField(
        "Models members may use",
        validators=[Optional()],
        description="None selected: every enabled model. Admins only.",
        render_kw={"size": 8},
    )
    default_profile = SelectField(
        "Default profile",
        default="",
        description="Chooses the model when no feature, user or call says otherwise.",
    )
    members_pay = BooleanField(
        "Members pay from their own balance",
        description="Managed calls are charged to each member's credits, not the org's. "
        "Admins only.",
    )
    version = VersionField()

    def fill_choices(self, profile_names: list[str] | None = None) -> OrgForm:
        self.allowed_models.choices = choices(
            (m.global_id, m.global_id) for m in catalog_snapshot.usable_models()
        )
        names = list(profile_names or [])
        self.default_profile.choices = choices([("", "None")] + [(n, n) for n in names])
        return self


class MemberAddForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[InputRequired(), Length(max=254)],
        description="They get an invitation to accept when they next sign in.",
    )
    org_role = SelectField("Role", choices=choices(ORG_ROLES), default="member")


class MemberRoleForm(FlaskForm):
    org_role = SelectField("Role", choices=choices(ORG_ROLES))


class ProfileCreateForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[InputRequired(), Length(max=64)],
        render_kw={"list": "profile-suggestions", "placeholder": "fast"},
    )
    description = StringField("Description", validators=[Optional(), Length(max=300)])
