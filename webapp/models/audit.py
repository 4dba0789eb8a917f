"""The audit log: who changed what, when, with a diff that never holds a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import BigId, Model, UTCDateTime, utcnow


class AuditEvent(Model):
    """One change. Actor and target labels are copied so events outlive deleted rows."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_target", "target_type", "target_id"),
        sa.Index("ix_audit_events_actor_time", "actor_id", "created_at"),
        sa.Index("ix_audit_events_org_time", "org_id", "created_at"),
        sa.Index("ix_audit_events_action_time", "action", "created_at"),
        sa.Index("ix_audit_events_target_id", "target_id"),
        # The target name filter (a prefix, any case): PostgreSQL reads it for LIKE 'abc%'
        # (text_pattern_ops); SQLite for the same prefix written as a range (services/audit/log).
        sa.Index(
            "ix_audit_events_label_prefix",
            sa.text("lower(target_label) text_pattern_ops"),
        ).ddl_if(dialect="postgresql"),
        sa.Index("ix_audit_events_label_lower", sa.text("lower(target_label)")).ddl_if(
            dialect="sqlite"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str | None] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    target_type: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    target_label: Mapped[str | None] = mapped_column(sa.String(300))
    # Lets org admins read the events of their own org only.
    org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL")
    )
    diff: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
