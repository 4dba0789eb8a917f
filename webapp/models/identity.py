"""Company identities (OpenID Connect) linked to users: who may sign in with which
``(issuer, subject)``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Model, UTCDateTime, utcnow
from webapp.models.user import User


class SsoIdentity(Model):
    """One identity at one OpenID provider, signing in as ``user``. The subject is the
    provider's stable id for the person; the email is only a reminder for admins."""

    __tablename__ = "sso_identities"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    issuer: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<SsoIdentity {self.issuer} {self.subject} -> {self.user_id}>"
