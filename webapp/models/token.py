"""Access tokens for the gateway and the management API: shown once, stored as a SHA-256
hash with a visible prefix."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Model, UTCDateTime, choice_check, utcnow


class TokenKind(StrEnum):
    PERSONAL = "personal"  # a member's own token: calls run as that member
    SERVICE = "service"  # an organization's token for an application that has no user


class TokenScope(StrEnum):
    FULL = "full"  # the gateway and the management API, with the owner's permissions
    READ_ONLY = "read_only"  # the gateway and the API's GET routes
    GATEWAY = "gateway"  # the gateway only


class AccessToken(Model):
    """A bearer token. Personal tokens belong to a user (and may run in one of their orgs);
    service tokens belong to an organization."""

    __tablename__ = "access_tokens"
    __table_args__ = (
        choice_check("kind", tuple(TokenKind)),
        choice_check("scope", tuple(TokenScope)),
        sa.CheckConstraint(
            "(kind = 'personal' AND user_id IS NOT NULL)"
            " OR (kind = 'service' AND user_id IS NULL AND org_id IS NOT NULL)",
            name="owner_matches_kind",
        ),
        sa.CheckConstraint(
            "(requests_per_minute IS NULL OR requests_per_minute > 0)"
            " AND (tokens_per_minute IS NULL OR tokens_per_minute > 0)",
            name="limits_positive",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=TokenKind.PERSONAL)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Calls made with the token run in this org's context (service tokens: their owner).
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(sa.String(24), nullable=False, unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    scope: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=TokenScope.GATEWAY)
    # Global model ids or patterns ("openai/*") the token may call; NULL: whatever its owner may.
    allowed_models: Mapped[list[str] | None] = mapped_column(sa.JSON)
    requests_per_minute: Mapped[int | None] = mapped_column(sa.Integer)
    tokens_per_minute: Mapped[int | None] = mapped_column(sa.Integer)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
