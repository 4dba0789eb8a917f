"""Features (global and per org) with their profile and overrides, and the global profiles."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.features import bp
from webapp.blueprints.features.forms import FeatureEditForm, FeatureForm, ProfileForm
from webapp.extensions import db
from webapp.forms import attach_errors, bounded_id
from webapp.htmx import is_partial_request, redirect_to, render, respond
from webapp.models import Feature, ParameterSet
from webapp.permissions import admin_required, org_admin_required
from webapp.services.accounts import orgs
from webapp.services.errors import Conflict, ValidationError
from webapp.services.settings import features, profiles
from webapp.services.settings import layers as settings_service
from webapp.services.usage import estimates
from webapp.views import settings_editor
from webapp.views.conflicts import keep_typed
from webapp.views.profile_editor import profile_page, save_profile_settings


def _form(cls: type[FeatureForm] = FeatureForm, **data: Any) -> FeatureForm:
    form = cls(**data) if data else cls()
    return form.fill_choices(profiles.names_for(current_user), global_owner=current_user.is_admin)


def _table() -> dict[str, Any]:
    """The page of features the URL asks for (``page``, ``q``)."""
    text = request.args.get("q", "")[:100]
    return {
        "features": features.list_features(
            current_user, bounded_id(request.args.get("page")), text
        ),
        "q": text.strip(),
        "may_edit": lambda f: features.may_edit(current_user, f),
    }


def _fields(form: FeatureForm) -> dict[str, Any]:
    return {
        "description": form.description.data,
        "profile_name": form.profile_name.data,
        "enabled": bool(form.enabled.data),
        "locked_fields": form.locked_fields.data or None,
        "system_prompt": form.system_prompt.data,
    }


def _list(
    form: FeatureForm | None = None, profile_form: ProfileForm | None = None, status: int = 200
) -> Response:
    return render(
        "features/index.html",
        "features/_list.html",
        status,
        **_table(),
        form=form or _form(formdata=None),
        profiles=profiles.list_profiles(None),
        profile_form=profile_form or ProfileForm(formdata=None),
        suggested_profiles=profiles.SUGGESTED,
    )


@bp.route("")
@org_admin_required
def index() -> Response:
    if is_partial_request():  # the search box and the pager swap the table alone
        return render("features/index.html", "features/_table.html", **_table())
    return _list()


@bp.route("", methods=["POST"])
@org_admin_required
def create() -> Response:
    form = _form()
    if form.validate_on_submit():
        owner = orgs.get_org(current_user, form.owner.data) if form.owner.data else None
        try:
            feature = features.create_feature(
                current_user,
                owner,
                form.slug.data or "",
                form.name.data or "",
                **_fields(form),
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(
                _list,
                notice=f"Feature {feature.slug} created.",
                then=url_for("features.show", feature_id=feature.id),
            )
    return _list(form, status=422)


def _pset(feature: Feature, create: bool = True) -> ParameterSet:
    return settings_service.parameter_set_for("feature", feature.id, create=create)


def _page(feature: Feature, status: int = 200, **extra: Any) -> Response:
    extra.setdefault(
        "form", _form(FeatureEditForm, formdata=None, obj=feature, version=feature.version)
    )
    extra.setdefault(
        "settings_form", settings_editor.form_for(_pset(feature, create=False), prefix="feature")
    )
    extra.setdefault("estimate", estimates.for_feature(feature))
    return render(
        "features/show.html",
        extra.pop("partial", "features/show.html"),
        status,
        feature=feature,
        **extra,
    )


@bp.route("/<int:feature_id>")
@org_admin_required
def show(feature_id: int) -> Response:
    return _page(features.get_feature(current_user, feature_id))


@bp.route("/<int:feature_id>", methods=["POST"])
@org_admin_required
def update(feature_id: int) -> Response:
    feature = features.get_feature(current_user, feature_id)
    form = _form(FeatureEditForm)
    status, notice, error = 422, None, None
    if form.validate_on_submit():
        try:
            features.update_feature(
                current_user,
                feature,
                name=form.name.data or "",
                **_fields(form),
                expected_version=form.version.data,
            )
            status, notice = 200, f"Feature {feature.slug} saved."
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            db.session.rollback()  # the feature as stored now
            saved = _form(FeatureEditForm, formdata=None, obj=feature, version=feature.version)
            status, form = 409, keep_typed(form, saved, exc.message)
    extra = {"form": form} if status != 200 else {}  # saved: the page shows the stored feature
    return respond(
        lambda: _page(
            feature, status, partial="features/_details.html", details_error=error, **extra
        ),
        status=status,
        notice=notice,
        then=url_for("features.show", feature_id=feature.id),
    )


@bp.route("/<int:feature_id>/settings", methods=["POST"])
@org_admin_required
def save_settings(feature_id: int) -> Response:
    feature = features.get_feature(current_user, feature_id)
    pset = _pset(feature)
    form = settings_editor.form_for(pset, prefix="feature", formdata=request.form)
    status, notice, form = settings_editor.save(
        pset, form, current_user, f"Overrides of feature {feature.slug}"
    )
    return respond(
        lambda: _page(feature, status, partial="features/_settings.html", settings_form=form),
        status=status,
        notice=notice,
        then=url_for("features.show", feature_id=feature.id),
    )


@bp.route("/<int:feature_id>/delete", methods=["POST"])
@org_admin_required
def delete(feature_id: int) -> Response:
    feature = features.get_feature(current_user, feature_id)
    slug = feature.slug
    features.delete_feature(current_user, feature)
    return redirect_to(url_for("features.index"), notice=f"Feature {slug} deleted.")


@bp.route("/profiles", methods=["POST"])
@admin_required
def create_profile() -> Response:
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            profile = profiles.create_profile(
                current_user, None, form.name.data or "", form.description.data
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(
                _list,
                notice=f"Profile {profile.name} created.",
                then=url_for("features.profile", profile_id=profile.id),
            )
    return _list(profile_form=form, status=422)


@bp.route("/profiles/<int:profile_id>")
@admin_required
def profile(profile_id: int) -> Response:
    return profile_page(profiles.get_profile(current_user, profile_id, None))


@bp.route("/profiles/<int:profile_id>", methods=["POST"])
@admin_required
def save_profile(profile_id: int) -> Response:
    return save_profile_settings(profiles.get_profile(current_user, profile_id, None))


@bp.route("/profiles/<int:profile_id>/delete", methods=["POST"])
@admin_required
def delete_profile(profile_id: int) -> Response:
    item = profiles.get_profile(current_user, profile_id, None)
    name = item.name
    profiles.delete_profile(current_user, item)
    return redirect_to(url_for("features.index"), notice=f"Profile {name} deleted.")
