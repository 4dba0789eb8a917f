"""Gateway test helpers: access tokens inserted directly (the token pages and CLI are
another area's), usage records, and the official SDKs pointed at a live server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anthropic
import openai
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AccessToken, UsageRecord, User
from webapp.services.tokens.secrets import new_secret


def make_token(
    user: User | None = None,
    *,
    org_id: int | None = None,
    kind: str = "personal",
    name: str = "test token",
    expires_at: datetime | None = None,
    **fields: Any,
) -> tuple[AccessToken, str]:
    """An access token row and its secret (shown once, like the real thing)."""
    secret = new_secret()
    token = AccessToken(
        kind=kind,
        user_id=user.id if user is not None else None,
        org_id=org_id,
        name=name,
        prefix=secret.prefix,
        token_hash=secret.token_hash,
        expires_at=expires_at,
        **fields,
    )
    db.session.add(token)
    db.session.commit()
    return token, secret.secret


def records() -> list[UsageRecord]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(UsageRecord).order_by(UsageRecord.id)))


def openai_client(base: str, secret: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=secret,
        base_url=f"{base}/v1",
        max_retries=0,
        timeout=20,
        default_headers=headers or None,
    )


def anthropic_client(base: str, secret: str, **headers: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=secret, base_url=base, max_retries=0, timeout=20, default_headers=headers or None
    )
