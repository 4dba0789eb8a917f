"""Encrypted provider keys at global, organization or user scope."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Model, TimestampMixin, UTCDateTime, VersionedMixin, choice_check
from webapp.models.catalog import Provider


class Scope(StrEnum):
    """Who owns a credential."""

    GLOBAL = "global"
    ORG = "org"
    USER = "user"


class LastTestStatus(StrEnum):
    """Outcome of the last connection test: ``ok``, ``unknown`` (never tested since the key
    was set), or why it failed. Only ``invalid`` (the provider rejected the key) says the key
    itself is bad; the others are about the way to the provider."""

    OK = "ok"
    INVALID = "invalid"  # 401: the provider rejected the key
    BLOCKED = "blocked"  # Switchboard refused the address (private, not allowed)
    UNREACHABLE = "unreachable"  # no connection: name not resolved, refused, reset
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # 5xx or a reply that could not be read
    REFUSED = "refused"  # another 4xx
    FAILED = "failed"  # anything else (e.g. the key is paused)
    UNKNOWN = "unknown"


def owner_key(scope: str, org_id: int | None, user_id: int | None) -> str:
    """One string per owner so label uniqueness is enforced portably (no NULLs in the key)."""
    if scope == Scope.ORG:
        return f"org:{org_id}"
    if scope == Scope.USER:
        return f"user:{user_id}"
    return "global"


class Credential(TimestampMixin, VersionedMixin, Model):
    """An API key. The secret is AES-256-GCM ciphertext bound to this row; never rendered."""

    __tablename__ = "credentials"
    __table_args__ = (
        choice_check("scope", tuple(Scope)),
        choice_check("last_test_status", tuple(LastTestStatus)),
        sa.CheckConstraint(
            "(scope = 'global' AND org_id IS NULL AND user_id IS NULL)"
            " OR (scope = 'org' AND org_id IS NOT NULL AND user_id IS NULL)"
            " OR (scope = 'user' AND user_id IS NOT NULL AND org_id IS NULL)",
            name="owner_matches_scope",
        ),
        sa.UniqueConstraint("provider_id", "owner_key", "label"),
        sa.Index("ix_credentials_scope_provider", "scope", "provider_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    owner_key: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("providers.id", ondelete="CASCADE"), nullable=False
    )
    label: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="default")
    # "<key-version>:<base64 nonce|ciphertext|tag>"; the version names the encryption key.
    secret_ciphertext: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # The last four characters, shown as "…AbCd". Never more.
    secret_hint: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    base_url: Mapped[str | None] = mapped_column(sa.String(500))
    # The origin (scheme://host:port) someone who may manage this key confirmed it may be sent
    # to. When the provider's or the key's base URL moves elsewhere, the key is paused until
    # it is re-entered or the new origin is confirmed.
    approved_origin: Mapped[str | None] = mapped_column(sa.String(300))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_test_status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=LastTestStatus.UNKNOWN
    )
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_test_message: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    provider: Mapped[Provider] = relationship()

    @property
    def masked(self) -> str:
        """``•••• set (…AbCd)``, or ``•••• set`` for a key too short to show any of it."""
        return f"•••• set (…{self.secret_hint})" if self.secret_hint else "•••• set"

    def __repr__(self) -> str:  # never includes the secret
        return f"<Credential {self.id} {self.scope} provider={self.provider_id} {self.label!r}>"
