"""The effective-settings explainer: every field's value, the layer and record it came from
(with a link to edit it there), and the key source that would serve the call."""

from __future__ import annotations

from flask import request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp.blueprints.explainer import bp
from webapp.extensions import db
from webapp.forms import PickerField
from webapp.htmx import render
from webapp.models import Organization, User
from webapp.permissions import admin_required
from webapp.services.settings import explainer
from webapp.services.settings.resolution import Source


class ExplainForm(FlaskForm):
    class Meta:
        csrf = False

    user_id = PickerField("User", kind="users")
    org_id = PickerField("Organization", kind="orgs")
    feature = PickerField("Feature", kind="features")


def _form() -> ExplainForm:
    return ExplainForm(request.args)


def edit_link(source: Source) -> str | None:
    """Where an admin changes this value."""
    if source.layer == "global":
        return url_for("defaults.index")
    if source.layer == "org" and source.org_id:
        return url_for("orgs.show", org_id=source.org_id, tab="settings")
    if source.layer == "profile" and source.record_id:
        if source.org_id:
            return url_for("orgs.profile", org_id=source.org_id, profile_id=source.record_id)
        return url_for("features.profile", profile_id=source.record_id)
    if source.layer == "feature" and source.record_id:
        return url_for("features.show", feature_id=source.record_id) + "#feature-settings"
    if source.layer == "user" and source.user_id:
        user = db.session.get(User, source.user_id)
        return url_for("users.index", q=user.email) if user else None
    return None


@bp.route("")
@admin_required
def index() -> Response:
    form = _form()
    if not form.validate():
        return render(
            "explainer/index.html",
            "explainer/_result.html",
            422,
            form=form,
            explanation=None,
            edit_link=edit_link,
        )
    user = db.session.get(User, form.user_id.data) if form.user_id.data else None
    org = db.session.get(Organization, form.org_id.data) if form.org_id.data else None
    explanation = explainer.explain(user, org, form.feature.data or None)
    return render(
        "explainer/index.html",
        "explainer/_result.html",
        form=form,
        explanation=explanation,
        edit_link=edit_link,
        subject=user,
        org=org,
    )
