"""The rows a usage record points at, which may be deleted while its call is in flight."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from webapp.models import UsageRecord

# Every reference a usage record keeps only while the row exists (ON DELETE SET NULL): read
# from the table itself, so one added later is never forgotten here.
REFERENCES: dict[str, sa.Column[Any]] = {
    fk.parent.name: fk.column for fk in UsageRecord.__table__.foreign_keys
}


def drop_vanished(connection: Connection, row: dict[str, Any]) -> None:
    """A user, key, model or account deleted while the call ran: keep the record, drop the
    link (the names stay copied in the record)."""
    for name, target in REFERENCES.items():
        if row.get(name) is None:
            continue
        if connection.execute(sa.select(target).where(target == row[name])).first() is None:
            row[name] = None
