"""What the three token pages share: the table's context, the create round trip (the secret
in that one response, never stored, never cached) and revoking from any of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.tokens.forms import TokenForm
from webapp.forms import attach_errors
from webapp.htmx import render, respond
from webapp.models import AccessToken
from webapp.services.errors import ValidationError
from webapp.services.tokens import activity
from webapp.services.tokens.manage import NewToken

VIEWS = ("mine", "org", "admin")


def table_context(tokens: list[AccessToken], view: str) -> dict[str, Any]:
    """Rows with their usage and budget spend, and how to revoke each."""
    return {
        "tokens": tokens,
        "activity": activity.activity(tokens),
        "names": activity.owner_names(tokens),
        "token_state": activity.state,
        "usage_days": activity.USAGE_DAYS,
        "view": view,
    }


def create_round_trip(
    form: TokenForm,
    create: Callable[[TokenForm], NewToken],
    page: Callable[..., Response],
) -> Response:
    """Validate, create, and answer with the secret once (``no-store``), or 422 at the fields.

    The secret goes straight from the service into this response: no redirect, no session.
    """
    if form.validate_on_submit():
        try:
            created = create(form)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            response = respond(
                lambda: page(created=created, partial="tokens/_create.html"),
                notice=f"Token {created.token.name} created. Copy it now: it is shown only once.",
                events=("tokens-changed",),
            )  # no ``then``: without JavaScript too, the secret is on the page answered now
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
            return response
    return page(form=form, status=422, partial="tokens/_create.html")


def revoked_response(token: AccessToken) -> Response:
    """htmx: the token's row, now revoked; plain posts: back to the page it was revoked on."""
    view = request.args.get("view", "")
    if view not in VIEWS:
        own = token.user_id == current_user.id
        view = "mine" if own else ("admin" if current_user.is_admin else "org")
    if view == "org" and token.org_id is not None:
        back = url_for("tokens.org_index", org_id=token.org_id)
    else:
        back = url_for("tokens.admin_index" if view == "admin" else "tokens.index")
    row = "tokens/_row.html"
    return respond(
        lambda: render(row, row, t=token, **table_context([token], view)),
        notice=f"Token {token.name} revoked: it stops working at once.",
        then=back,
    )
