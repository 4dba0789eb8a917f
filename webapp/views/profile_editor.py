"""The profile page, shared by global profiles (features area) and org profiles."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.htmx import render, respond
from webapp.models import ParameterSet, Profile
from webapp.services.settings import layers as settings_service
from webapp.views import settings_editor


def _pset(profile: Profile, create: bool = True) -> ParameterSet:
    return settings_service.parameter_set_for("profile", profile.id, create=create)


def urls(profile: Profile) -> dict[str, str]:
    if profile.org_id is None:
        return {
            "action": url_for("features.save_profile", profile_id=profile.id),
            "delete": url_for("features.delete_profile", profile_id=profile.id),
            "back": url_for("features.index"),
            "page": url_for("features.profile", profile_id=profile.id),
        }
    args: dict[str, Any] = {"org_id": profile.org_id, "profile_id": profile.id}
    return {
        "action": url_for("orgs.save_profile", **args),
        "delete": url_for("orgs.delete_profile", **args),
        "back": url_for("orgs.show", org_id=profile.org_id, tab="profiles"),
        "page": url_for("orgs.profile", **args),
    }


def profile_page(profile: Profile, form: object = None, status: int = 200) -> Response:
    form = form or settings_editor.form_for(_pset(profile, create=False), prefix="profile")
    return render(
        "profiles/show.html",
        "profiles/_editor.html",
        status,
        profile=profile,
        form=form,
        urls=urls(profile),
    )


def save_profile_settings(profile: Profile) -> Response:
    owner = f" of {profile.organization_name}" if profile.org_id else " (global)"
    pset = _pset(profile)
    form = settings_editor.form_for(pset, prefix="profile", formdata=request.form)
    status, notice, form = settings_editor.save(
        pset, form, current_user, f"Profile {profile.name}{owner}"
    )
    return respond(
        lambda: profile_page(profile, form, status),
        status=status,
        notice=notice,
        then=urls(profile)["page"],
    )
