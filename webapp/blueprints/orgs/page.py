"""The organization page: every section built from one context, so any section can be
re-rendered alone (an htmx swap) or as part of the whole page (plain posts, errors)."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for

from webapp import htmx
from webapp.blueprints.orgs.forms import MemberAddForm, OrgForm, ProfileCreateForm
from webapp.htmx import render
from webapp.models import Organization
from webapp.services.accounts import invitations, orgs
from webapp.services.catalog import listing as catalog
from webapp.services.credentials.storage import org_owner
from webapp.services.settings import layers as settings_service
from webapp.services.settings import profiles
from webapp.views import settings_editor
from webapp.views.credential_panels import Area, Endpoints, Panel


def key_area(org: Organization) -> Area:
    endpoints = Endpoints.named("orgs.show", "orgs.key_", org_id=org.id)
    return Area(
        owner=org_owner(org.id),
        endpoints=endpoints,
        base_url_for_all=True,
        page=lambda status=200, replace=None: org_page(org, status, replace=replace),
    )


def details_form(org: Organization) -> OrgForm:
    form = OrgForm(
        formdata=None,
        name=org.name,
        description=org.description,
        allowed_models=org.allowed_models or [],
        default_profile=org.default_profile or "",
        members_pay=org.members_pay,
        version=org.version,
    )
    return form.fill_choices(orgs.profile_choices(org.id))


def context(org: Organization, **overrides: Any) -> dict[str, Any]:
    """Everything the page shows; ``overrides`` replace a section's form or panel."""
    area = key_area(org)
    replace: Panel | None = overrides.pop("replace", None)
    panels = [
        replace
        if replace is not None and replace.provider.id == provider.id
        else area.panel(provider)
        for provider in catalog.enabled_providers()
    ]
    ctx: dict[str, Any] = {
        "org": org,
        "details_form": details_form(org),
        "details_error": None,
        "member_form": MemberAddForm(formdata=None),
        "invitations": invitations.list_for_org(org.id),
        "panels": panels,
        "settings_form": settings_editor.form_for(
            settings_service.parameter_set_for("org", org.id, create=False), prefix="org-settings"
        ),
        "profiles": profiles.list_profiles(org.id),
        "profile_form": ProfileCreateForm(formdata=None),
        "suggested_profiles": profiles.SUGGESTED,
    }
    ctx.update({k: v for k, v in overrides.items() if v is not None})
    return ctx


def org_page(org: Organization, status: int = 200, **overrides: Any) -> Response:
    return render("orgs/show.html", "orgs/show.html", status, **context(org, **overrides))


def respond(
    org: Organization,
    partial: str,
    status: int = 200,
    notice: str | None = None,
    level: str = "success",
    **overrides: Any,
) -> Response:
    """The section partial for htmx, the page with errors, or a redirect after success."""
    return htmx.respond(
        lambda: render(partial, partial, status, **context(org, **overrides)),
        status=status,
        notice=notice,
        level=level,
        then=url_for("orgs.show", org_id=org.id),
        page=lambda: org_page(org, status, **overrides),
    )
