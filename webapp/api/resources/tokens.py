"""Access tokens as the Tokens pages manage them: your own personal tokens, your orgs'
service tokens (org admins), every token (admins). The secret is in the create response only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.api.core import actor, encode_cursor, id_after, identity, route
from webapp.api.schemas import NewTokenOut, Page, TokenCreate, TokenOut, TokenQuery
from webapp.extensions import db
from webapp.models import AccessToken, OrgRole, TokenKind
from webapp.services.errors import ValidationError
from webapp.services.tokens import manage, rules

TAG = "Access tokens"


@route(
    "GET",
    "/tokens",
    summary="List access tokens",
    tag=TAG,
    query=TokenQuery,
    response=Page[TokenOut],
)
def list_tokens(query: TokenQuery) -> Any:
    """Admins see every token; others their personal tokens and their orgs' tokens."""
    user = actor()
    select = sa.select(AccessToken).order_by(AccessToken.id.desc()).limit(query.limit + 1)
    if not user.is_admin:
        own = (AccessToken.kind == TokenKind.PERSONAL) & (AccessToken.user_id == user.id)
        orgs = [m.org_id for m in user.memberships if m.org_role == OrgRole.ORG_ADMIN]
        select = select.where(own | AccessToken.org_id.in_(orgs) if orgs else own)
    if (condition := manage._state_filter(query.state)) is not None:
        select = select.where(condition)
    if (after := id_after(query.cursor)) is not None:
        select = select.where(AccessToken.id < after)
    tokens = list(db.session.scalars(select))
    more = len(tokens) > query.limit
    tokens = tokens[: query.limit]
    return {"items": tokens, "next_cursor": encode_cursor(tokens[-1].id) if more else None}


@route(
    "POST",
    "/tokens",
    summary="Create an access token",
    tag=TAG,
    body=TokenCreate,
    response=NewTokenOut,
    status=201,
)
def create_token(body: TokenCreate) -> Any:
    """A personal token of your own (optionally running in one of your orgs), or an org's
    service token (its admins). The response holds the secret, once. The new token reaches
    no further than the one sending this request: its scope or a narrower one, expiring no
    later, calling only models that one may call (else a 422 at the field)."""
    data = rules.TokenInput(
        name=body.name,
        scope=body.scope,
        allowed_models=body.allowed_models,
        requests_per_minute=body.requests_per_minute,
        tokens_per_minute=body.tokens_per_minute,
        expires_at=body.expires_at,
        expires_in_days=body.expires_in_days,
    )
    user, sender = actor(), identity()
    within = rules.Reach(sender.scope, sender.expires_at, sender.allowed_models)
    if body.kind == TokenKind.SERVICE:
        if body.org_id is None:
            raise ValidationError({"org_id": "A service token belongs to an organization."})
        new = manage.create_service_token(user, body.org_id, data, within=within)
    else:
        new = manage.create_personal_token(
            user, data, actor=user, org_id=body.org_id, within=within
        )
    out = TokenOut.model_validate(new.token, from_attributes=True).model_dump()
    return {**out, "token": new.secret}


@route("GET", "/tokens/<int:token_id>", summary="Read an access token", tag=TAG, response=TokenOut)
def get_token(token_id: int) -> Any:
    return manage.get_token(actor(), token_id)


@route("DELETE", "/tokens/<int:token_id>", summary="Revoke an access token", tag=TAG, status=204)
def revoke_token(token_id: int) -> Any:
    """It stops working at once; revoking a revoked token changes nothing."""
    manage.revoke_token(actor(), token_id)
