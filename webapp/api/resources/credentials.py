"""Keys at the three scopes, as the Keys pages manage them: global (admins), an org's (its
admins) and a user's own (BYOK). Secrets are write-only: a response shows the masked form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from webapp.api.core import ApiError, actor, encode_cursor, id_after, route
from webapp.api.schemas import (
    ConnectionTestOut,
    CredentialCreate,
    CredentialOut,
    CredentialQuery,
    CredentialUpdate,
    OriginConfirm,
    Page,
)
from webapp.extensions import db
from webapp.models import Credential, Provider
from webapp.services import llm
from webapp.services.credentials import confirmation, storage
from webapp.services.errors import NotFound

TAG = "Credentials"


def _owner(kind: str, org_id: int | None) -> storage.Owner:
    if kind == "global":
        return storage.GLOBAL
    if kind == "org":
        if org_id is None:
            raise ApiError(422, "Name the organization.", errors={"org_id": ["Required."]})
        return storage.org_owner(org_id)
    return storage.user_owner(actor().id)


def _credential(credential_id: int) -> Credential:
    """The key if the token's owner may manage it (404 otherwise, as on the pages)."""
    found = db.session.get(Credential, credential_id)
    if found is None:
        raise NotFound("That key does not exist.")
    owner = storage.Owner(found.scope, found.org_id, found.user_id)
    return storage.get_credential(actor(), owner, credential_id)


@route(
    "GET",
    "/credentials",
    summary="List keys of one owner",
    tag=TAG,
    query=CredentialQuery,
    response=Page[CredentialOut],
    sensitive=True,
)
def list_credentials(query: CredentialQuery) -> Any:
    """``owner=user`` (default) lists your own keys; ``global`` and ``org`` need admin rights."""
    owner = _owner(query.owner, query.org_id)
    if not storage.may_manage(actor(), owner):
        raise NotFound("That owner does not exist.")
    after = id_after(query.cursor)
    keys = sorted(storage.list_credentials(owner), key=lambda c: c.id)
    keys = [k for k in keys if after is None or k.id > after][: query.limit + 1]
    more = len(keys) > query.limit
    keys = keys[: query.limit]
    return {"items": keys, "next_cursor": encode_cursor(keys[-1].id) if more else None}


@route(
    "POST",
    "/credentials",
    summary="Store a key",
    tag=TAG,
    body=CredentialCreate,
    response=CredentialOut,
    status=201,
    sensitive=True,
)
def create_credential(body: CredentialCreate) -> Any:
    data = storage.CredentialInput(
        label=body.label, secret=body.secret, base_url=body.base_url, expires_on=body.expires_on
    )
    owner = _owner(body.owner, body.org_id)
    return storage.create_credential(actor(), owner, body.provider_id, data)


@route(
    "GET",
    "/credentials/<int:credential_id>",
    summary="Read a key (masked)",
    tag=TAG,
    response=CredentialOut,
    sensitive=True,
)
def get_credential(credential_id: int) -> Any:
    return _credential(credential_id)


@route(
    "PATCH",
    "/credentials/<int:credential_id>",
    summary="Update a key",
    tag=TAG,
    body=CredentialUpdate,
    response=CredentialOut,
    sensitive=True,
)
def update_credential(credential_id: int, body: CredentialUpdate) -> Any:
    """Fields left out keep their values; an empty or absent ``secret`` keeps the key."""
    credential = _credential(credential_id)
    given = body.model_fields_set
    stored_expiry = None
    if credential.expires_at is not None:  # the page's "expires on" is the day before
        stored_expiry = (credential.expires_at - timedelta(days=1)).date()
    data = storage.CredentialInput(
        label=body.label if "label" in given and body.label is not None else credential.label,
        secret=body.secret or None,
        base_url=body.base_url if "base_url" in given else credential.base_url,
        expires_on=body.expires_on if "expires_on" in given else stored_expiry,
        confirm_origin=body.confirm_origin,
    )
    return storage.update_credential(actor(), credential, data, body.version)


@route(
    "DELETE",
    "/credentials/<int:credential_id>",
    summary="Delete a key",
    tag=TAG,
    status=204,
    sensitive=True,
)
def delete_credential(credential_id: int) -> Any:
    storage.delete_credential(actor(), _credential(credential_id))


@route(
    "POST",
    "/credentials/<int:credential_id>/test",
    summary="Test a key",
    tag=TAG,
    response=ConnectionTestOut,
    sensitive=True,
)
def test_credential(credential_id: int) -> Any:
    """Lists the provider's models with exactly this key (metered)."""
    credential = _credential(credential_id)
    user = actor()
    provider = db.session.get(Provider, credential.provider_id)
    if provider is None:
        raise NotFound("That provider does not exist.")
    result = llm.test_connection(
        provider, credential=credential, context=llm.CallContext(user=user, caller="test")
    )
    return {
        "ok": result.ok,
        "latency_ms": result.latency_ms,
        "request_id": result.request_id,
        "models": len(result.models),
        "key_source": result.key_source,
        "error_type": result.error_type,
        "message": result.admin_message if user.is_admin else result.message,
    }


@route(
    "POST",
    "/credentials/<int:credential_id>/confirm",
    summary="Resume a key paused by a new address",
    tag=TAG,
    body=OriginConfirm,
    response=CredentialOut,
    sensitive=True,
)
def confirm_credential(credential_id: int, body: OriginConfirm) -> Any:
    """A key stops being sent when its provider's (or its own) base URL moves to another
    origin; this sends it to the new one (audited). Whoever manages the key confirms it, as
    on the Keys pages (which also ask for a fresh sign-in: a full token stands for it)."""
    return confirmation.confirm_origin(actor(), _credential(credential_id), body.origin)
