"""The organization page: one tab per section (details, members, keys, settings, profiles).

Each section has its own small context builder, so an htmx swap of one section queries only
what that section shows; the full page renders the tab the URL names (``?tab=members``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request, url_for
from werkzeug.wrappers import Response

from webapp import htmx
from webapp.blueprints.orgs.forms import MemberAddForm, OrgForm, ProfileCreateForm
from webapp.forms import bounded_id
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
        page=lambda status=200, replace=None: org_page(org, status, "keys", replace=replace),
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


def _details(org: Organization) -> dict[str, Any]:
    return {"details_form": details_form(org), "details_error": None}


def _members(org: Organization) -> dict[str, Any]:
    """One page of members (``page`` and ``q`` from the URL) and the pending invitations."""
    text = request.args.get("q", "")[:100] if request.method == "GET" else ""
    page = bounded_id(request.args.get("page")) if request.method == "GET" else 1
    return {
        "members": orgs.list_members(org, page, text),
        "members_q": text.strip(),
        "member_form": MemberAddForm(formdata=None),
        "invitations": invitations.list_for_org(org.id),
    }


def _keys(org: Organization, replace: Panel | None = None) -> dict[str, Any]:
    return {"panels": key_area(org).panels(catalog.enabled_providers(), replace)}


def _settings(org: Organization) -> dict[str, Any]:
    pset = settings_service.parameter_set_for("org", org.id, create=False)
    return {"settings_form": settings_editor.form_for(pset, prefix="org-settings")}


def _profiles(org: Organization) -> dict[str, Any]:
    return {
        "profiles": profiles.list_profiles(org.id),
        "profile_form": ProfileCreateForm(formdata=None),
        "suggested_profiles": profiles.SUGGESTED,
    }


# tab name → (its partial, its context builder); the first is the default tab.
SECTIONS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "details": ("orgs/_details.html", _details),
    "members": ("orgs/_members.html", _members),
    "keys": ("orgs/_keys.html", _keys),
    "settings": ("orgs/_settings.html", _settings),
    "profiles": ("orgs/_profiles.html", _profiles),
    "credits": ("billing/_org.html", lambda org: {}),
}
TABS = {name: name.title() for name in SECTIONS}


def _tab_of(partial: str) -> str:
    return next(tab for tab, (template, _) in SECTIONS.items() if template == partial)


def context(org: Organization, tab: str, **overrides: Any) -> dict[str, Any]:
    """What the ``tab`` section shows; ``overrides`` replace its form or a key panel."""
    partial, build = SECTIONS[tab]
    ctx: dict[str, Any] = {"org": org, "tab": tab, "tabs": TABS, "section": partial}
    if tab == "keys":
        ctx.update(build(org, overrides.pop("replace", None)))
    else:
        ctx.update(build(org))
    ctx.update({k: v for k, v in overrides.items() if v is not None})
    return ctx


def current_tab() -> str:
    tab = request.args.get("tab", "")
    return tab if tab in SECTIONS else "details"


def org_page(
    org: Organization, status: int = 200, tab: str | None = None, **overrides: Any
) -> Response:
    """The page at one tab; an htmx tab switch gets the tabs and that section alone."""
    ctx = context(org, tab or current_tab(), **overrides)
    return render("orgs/show.html", "orgs/_tabs.html", status, **ctx)


def respond(
    org: Organization,
    partial: str,
    status: int = 200,
    notice: str | None = None,
    level: str = "success",
    **overrides: Any,
) -> Response:
    """The section partial for htmx, the page with errors, or a redirect after success."""
    tab = _tab_of(partial)
    return htmx.respond(
        lambda: render(partial, partial, status, **context(org, tab, **overrides)),
        status=status,
        notice=notice,
        level=level,
        then=url_for("orgs.show", org_id=org.id, tab=tab if tab != "details" else None),
        page=lambda: render(
            "orgs/show.html", "orgs/show.html", status, **context(org, tab, **overrides)
        ),
    )
