"""Small system tables: counters shared by processes, seed bookkeeping, allowed hosts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Model, UTCDateTime, utcnow


class AppCounter(Model):
    """A named counter, e.g. ``settings_version``: bumped on every settings write so every
    app process drops its cached settings within a second."""

    __tablename__ = "app_counters"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)


class SeedRecord(Model):
    """Every preset the seed has ever inserted. The seed inserts only what it never inserted
    before, so an admin's edits are kept and deleted presets stay deleted."""

    __tablename__ = "seed_records"

    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    seeded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class AllowedHost(Model):
    """A host and port an admin allowed as a base URL although it is private or loopback
    (e.g. a local Ollama server on localhost:11434). Always one port: a host alone must not
    open every service on it."""

    __tablename__ = "allowed_hosts"
    __table_args__ = (
        sa.UniqueConstraint("host", "port"),
        sa.CheckConstraint("port >= 1 AND port <= 65535", name="port_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    port: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(sa.String(300))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    @property
    def label(self) -> str:
        """``host:port`` as the guard compares it (IPv6 hosts in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class AppSetting(Model):
    """An operational setting an admin changes in the UI (e.g. whether managed calls need
    credits, the billing time zone): one JSON value per key, audited when changed."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class ProviderHealth(Model):
    """Recent failures of a provider (model_id NULL) or one of its models, and the cooldown
    they earned: shared by every process through the database."""

    __tablename__ = "provider_health"
    __table_args__ = (sa.UniqueConstraint("provider_id", "model_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("providers.id", ondelete="CASCADE"), nullable=False
    )
    # The model's id, or "" for the provider as a whole (portable uniqueness, no NULLs).
    model_key: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cooldown_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )
