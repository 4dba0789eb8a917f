"""Column types and mixins shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from webapp.extensions import Base, db

if TYPE_CHECKING:

    class Model(Base):
        """What ``db.Model`` is, spelled so a type checker can see it."""

        __abstract__ = True
        __table__: ClassVar[sa.Table]  # declarative classes map a Table, not any FromClause

else:
    Model = db.Model

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: identical behaviour on SQLite and PostgreSQL."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                "naive datetime given to a UTC column; use webapp.models.base.utcnow()"
            )
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def made_on(item: Any, dialect: str) -> bool:
    """Whether the models create ``item`` on the database ``dialect``: not an index declared
    with ``ddl_if`` for another one (autogenerate must neither propose nor compare it)."""
    only = getattr(item, "_ddl_if", None)
    if only is None or only.dialect is None:
        return True
    return dialect == only.dialect if isinstance(only.dialect, str) else dialect in only.dialect


def choice_check(
    column: str, values: tuple[str, ...], name: str | None = None
) -> sa.CheckConstraint:
    """CHECK that ``column`` holds one of ``values`` (portable alternative to native enums)."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_valid")


class TimestampMixin:
    """``created_at`` and ``updated_at``, maintained by SQLAlchemy."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class VersionedMixin:
    """Optimistic locking: a second save from a stale form raises ``StaleDataError``."""

    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}

    def check_version(self, expected: int | None, what: str = "this") -> None:
        """Refuse a save from a form opened on another version (None: no form involved).
        ``what`` names the record in the message: "this key", "these settings"."""
        from webapp.services.errors import Conflict

        if expected is not None and expected != self.version:
            raise Conflict(
                f"Someone else changed {what} since you opened the form. Review the current values "
                "and save again."
            )
