"""Counting the SQL statements a block of code sends (N+1 queries show up as counts that grow
with the rows)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.extensions import db


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_statements() -> Iterator[Counted]:
    """Every statement sent on the app's engine inside the block (SAVEPOINTs excluded)."""
    counted = Counted()

    def record(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            counted.statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield counted
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
