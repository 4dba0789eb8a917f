"""People and organizations: users, organizations and memberships."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import (
    Model,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
    choice_check,
    utcnow,
)


class Role(StrEnum):
    """Site-wide role. Org admins are members with an ``org_admin`` membership."""

    ADMIN = "admin"
    MEMBER = "member"


class Mode(StrEnum):
    """Whose keys serve a user's calls."""

    MANAGED = "managed"
    BYOK = "byok"


class OrgRole(StrEnum):
    """Role inside one organization."""

    ORG_ADMIN = "org_admin"
    MEMBER = "member"


def new_session_token() -> str:
    """A random value that, when changed, signs the user out everywhere."""
    return secrets.token_hex(32)


class User(UserMixin, TimestampMixin, VersionedMixin, Model):
    """Someone who signs in: an admin or a member (who may be an org admin)."""

    __tablename__ = "users"
    __table_args__ = (
        choice_check("role", tuple(Role)),
        choice_check("mode", tuple(Mode)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    display_name: Mapped[str | None] = mapped_column(sa.String(120))
    # Werkzeug's scrypt hashes are ~162 characters.
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=Role.MEMBER)
    mode: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=Mode.MANAGED)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Flask-Login's alternative id: rotated on sign-out, password, role and status changes,
    # so every session and remember-me cookie issued before stops working at once.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), nullable=False, default=new_session_token
    )
    must_change_password: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def get_id(self) -> str:
        """Session id includes the session token so rotating it ends every session."""
        return f"{self.id}:{self.session_token}"

    def org_role(self, org_id: int) -> str | None:
        """This user's role in ``org_id``, or None when not a member."""
        for membership in self.memberships:
            if membership.org_id == org_id:
                return membership.org_role
        return None

    def administered_org_ids(self) -> list[int]:
        """Ids of the organizations this user administers."""
        return [m.org_id for m in self.memberships if m.org_role == OrgRole.ORG_ADMIN]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class Organization(TimestampMixin, VersionedMixin, Model):
    """A tenant: its members, keys, settings, profiles and features."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    # Global model ids ("provider/model") members may use; NULL means every enabled model.
    allowed_models: Mapped[list[str] | None] = mapped_column(sa.JSON)
    # The profile (e.g. "balanced") that chooses the model when nothing more specific does.
    default_profile: Mapped[str | None] = mapped_column(sa.String(64))
    # Managed calls in this org are charged to each member's own balance, not the org's.
    members_pay: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class Membership(Model):
    """A user's place in an organization, with their org role."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "org_id"),
        choice_check("org_role", tuple(OrgRole)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    org_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_role: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=OrgRole.MEMBER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships")


class OrgInvitation(Model):
    """A pending place in an organization for an email address, accepted by its owner on
    sign-in. Org admins see the same answer whether or not the email is registered."""

    __tablename__ = "org_invitations"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "email"),
        choice_check("org_role", tuple(OrgRole)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, index=True)
    org_role: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=OrgRole.MEMBER)
    invited_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    organization: Mapped[Organization] = relationship()
