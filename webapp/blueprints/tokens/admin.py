"""An org's service tokens (its admins and site admins) and every token (site admins)."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.tokens import bp
from webapp.blueprints.tokens.forms import TokenFilterForm, TokenForm
from webapp.blueprints.tokens.views import create_round_trip, table_context
from webapp.htmx import render
from webapp.models import Organization
from webapp.permissions import admin_required, org_admin_required
from webapp.services.accounts import orgs
from webapp.services.tokens import manage
from webapp.services.tokens.manage import NewToken


def _org_page(
    org: Organization,
    form: TokenForm | None = None,
    created: NewToken | None = None,
    status: int = 200,
    partial: str = "tokens/_table.html",
) -> Response:
    return render(
        "tokens/org.html",
        partial,
        status,
        org=org,
        form=form or TokenForm(formdata=None).offer_orgs(None),
        created=created,
        create_url="tokens.org_create",
        url_args={"org_id": org.id},
        **table_context(manage.list_for_org(current_user, org.id), "org"),
    )


@bp.route("/admin/orgs/<int:org_id>/tokens")
@org_admin_required
def org_index(org_id: int) -> Response:
    return _org_page(orgs.get_org(current_user, org_id))


@bp.route("/admin/orgs/<int:org_id>/tokens", methods=["POST"])
@org_admin_required
def org_create(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)

    def make(form: TokenForm) -> NewToken:
        return manage.create_service_token(
            current_user, org.id, form.token_input(), budget=form.budget_input()
        )

    def page(**kwargs: object) -> Response:
        return _org_page(org, **kwargs)  # type: ignore[arg-type]

    return create_round_trip(TokenForm().offer_orgs(None), make, page)


@bp.route("/admin/tokens")
@admin_required
def admin_index() -> Response:
    form = TokenFilterForm(request.args)
    if not form.validate():
        return render(
            "tokens/admin.html",
            "tokens/_table.html",
            422,
            filter_form=form,
            listing=None,
            **table_context([], "admin"),
        )
    listing = manage.list_all(
        current_user,
        query=form.q.data or "",
        state=form.state.data or "all",
        page=form.page.data or 1,
    )
    return render(
        "tokens/admin.html",
        "tokens/_table.html",
        filter_form=form,
        listing=listing,
        args=form.link_args(),
        **table_context(listing.tokens, "admin"),
    )
