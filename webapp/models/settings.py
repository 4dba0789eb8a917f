"""Parameter sets at every scope, and the profiles and features that own some of them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Model, TimestampMixin, VersionedMixin, choice_check
from webapp.models.catalog import CatalogModel
from webapp.models.user import Organization


class SettingsScope(StrEnum):
    """The layer a parameter set belongs to (resolution order, lowest first)."""

    GLOBAL = "global"
    ORG = "org"
    PROFILE = "profile"
    FEATURE = "feature"
    USER = "user"


class LogLevel(StrEnum):
    """How much of each call is kept in the usage record."""

    FULL = "full"
    MINIMAL = "minimal"
    ERRORS_ONLY = "errors_only"


def _range(column: str, low: float, high: float) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"{column} IS NULL OR ({column} >= {low} AND {column} <= {high})", name=f"{column}_range"
    )


# Owner columns: exactly the one matching the scope is set (global has none).
_OWNERS = {"org": "org_id", "profile": "profile_id", "feature": "feature_id", "user": "user_id"}


def _owner_check() -> sa.CheckConstraint:
    clauses = [
        "(scope = 'global' AND " + " AND ".join(f"{c} IS NULL" for c in _OWNERS.values()) + ")"
    ]
    for scope, column in _OWNERS.items():
        others = [c for c in _OWNERS.values() if c != column]
        clauses.append(
            f"(scope = '{scope}' AND {column} IS NOT NULL AND "
            + " AND ".join(f"{c} IS NULL" for c in others)
            + ")"
        )
    return sa.CheckConstraint(" OR ".join(clauses), name="owner_matches_scope")


class ParameterSet(TimestampMixin, VersionedMixin, Model):
    """Settings of one layer. Every field is nullable: NULL means inherit from below."""

    __tablename__ = "parameter_sets"
    __table_args__ = (
        choice_check("scope", tuple(SettingsScope)),
        choice_check("logging_level", tuple(LogLevel)),
        _owner_check(),
        _range("temperature", 0, 2),
        _range("max_tokens", 1, 200000),
        _range("top_p", 0, 1),
        _range("frequency_penalty", -2, 2),
        _range("presence_penalty", -2, 2),
        _range("max_retries", 0, 10),
        _range("retry_backoff_ms", 100, 10000),
        _range("request_timeout_ms", 1000, 300000),
        sa.Index(
            "uq_parameter_sets_one_global",
            "scope",
            unique=True,
            sqlite_where=sa.text("scope = 'global'"),
            postgresql_where=sa.text("scope = 'global'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    profile_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("profiles.id", ondelete="CASCADE"), unique=True
    )
    feature_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("features.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )

    model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("models.id", ondelete="SET NULL"))
    temperature: Mapped[float | None] = mapped_column(sa.Float)
    max_tokens: Mapped[int | None] = mapped_column(sa.Integer)
    top_p: Mapped[float | None] = mapped_column(sa.Float)
    frequency_penalty: Mapped[float | None] = mapped_column(sa.Float)
    presence_penalty: Mapped[float | None] = mapped_column(sa.Float)
    stop: Mapped[list[str] | None] = mapped_column(sa.JSON)
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    max_retries: Mapped[int | None] = mapped_column(sa.Integer)
    retry_backoff_ms: Mapped[int | None] = mapped_column(sa.Integer)
    request_timeout_ms: Mapped[int | None] = mapped_column(sa.Integer)
    logging_enabled: Mapped[bool | None] = mapped_column(sa.Boolean)
    logging_level: Mapped[str | None] = mapped_column(sa.String(16))
    log_request_bodies: Mapped[bool | None] = mapped_column(sa.Boolean)
    log_response_bodies: Mapped[bool | None] = mapped_column(sa.Boolean)
    # Ordered global model ids ("provider/model"); ids survive export/import and deletions.
    fallback_models: Mapped[list[str] | None] = mapped_column(sa.JSON)
    extra_options: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    model: Mapped[CatalogModel | None] = relationship()


class Profile(TimestampMixin, VersionedMixin, Model):
    """A named tier (fast, balanced, powerful …): a model plus settings, global or per org."""

    __tablename__ = "profiles"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "name"),
        sa.Index(
            "uq_profiles_global_name",
            "name",
            unique=True,
            sqlite_where=sa.text("org_id IS NULL"),
            postgresql_where=sa.text("org_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)

    settings: Mapped[ParameterSet] = relationship(
        primaryjoin="ParameterSet.profile_id == Profile.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        uselist=False,
    )
    organization: Mapped[Organization | None] = relationship()

    @property
    def organization_name(self) -> str | None:
        return self.organization.name if self.organization else None


class Feature(TimestampMixin, VersionedMixin, Model):
    """A use case (e.g. ``summarize``), global or per org, pointing at a profile by name.

    The profile is referenced by name so that a global feature uses an org's own ``fast``
    profile when the org defines one, and the global ``fast`` otherwise.
    """

    __tablename__ = "features"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "slug"),
        sa.Index(
            "uq_features_global_slug",
            "slug",
            unique=True,
            sqlite_where=sa.text("org_id IS NULL"),
            postgresql_where=sa.text("org_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE")
    )
    slug: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    profile_name: Mapped[str | None] = mapped_column(sa.String(64))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Settings fields users and per-call overrides cannot change for this feature.
    locked_fields: Mapped[list[str] | None] = mapped_column(sa.JSON)
    # Prepended to every call of the feature as its first system message.
    system_prompt: Mapped[str | None] = mapped_column(sa.Text)

    settings: Mapped[ParameterSet] = relationship(
        primaryjoin="ParameterSet.feature_id == Feature.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        uselist=False,
    )
    organization: Mapped[Organization | None] = relationship()
