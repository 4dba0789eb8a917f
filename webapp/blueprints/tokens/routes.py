"""A member's own tokens on ``/tokens``, and revoking any token one may manage."""

from __future__ import annotations

from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.tokens import bp
from webapp.blueprints.tokens.forms import TokenForm
from webapp.blueprints.tokens.views import create_round_trip, revoked_response, table_context
from webapp.htmx import render
from webapp.services.tokens import manage
from webapp.services.tokens.manage import NewToken


def _form(**kwargs: object) -> TokenForm:
    return TokenForm(**kwargs).offer_orgs(manage.member_orgs(current_user))


def _page(
    form: TokenForm | None = None,
    created: NewToken | None = None,
    status: int = 200,
    partial: str = "tokens/_table.html",
) -> Response:
    return render(
        "tokens/index.html",
        partial,
        status,
        form=form or _form(formdata=None),
        created=created,
        create_url="tokens.create",
        url_args={},
        **table_context(manage.list_personal(current_user), "mine"),
    )


@bp.route("/tokens")
@login_required
def index() -> Response:
    return _page()


@bp.route("/tokens", methods=["POST"])
@login_required
def create() -> Response:
    def make(form: TokenForm) -> NewToken:
        return manage.create_personal_token(
            current_user,
            form.token_input(),
            actor=current_user,
            org_id=form.org_id.data,
            budget=form.budget_input(),
        )

    return create_round_trip(_form(), make, _page)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> Response:
    return revoked_response(manage.revoke_token(current_user, token_id))


from webapp.blueprints.tokens import admin  # noqa: E402,F401
