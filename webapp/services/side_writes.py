"""Writes that must not ride on the caller's transaction: metering, test bookkeeping.

The call service may run while its caller has changes pending in ``db.session``; it must
neither commit them nor lose its own write when the caller rolls back. These writes use a
connection and a transaction of their own. The test suite replaces ``own_transaction`` so
that they join the test's rolled-back transaction instead.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection

from webapp.extensions import db


def own_transaction(
    redo: Callable[[], None] | None = None,
) -> AbstractContextManager[Connection]:
    """``with own_transaction() as connection:`` — committed when the block ends.

    ``redo`` writes the same thing again from scratch; only the test suite uses it (to
    re-apply a side write its rolled-back test transaction undid, when the statements
    depend on ids the database handed out).
    """
    return db.engine.begin()


def forget_cached(model: type[Any], row_id: int) -> None:
    """Expire ``db.session``'s copy of a row another connection just changed, if it has one."""
    instance = db.session.identity_map.get(db.session.identity_key(model, row_id))
    if instance is not None:
        db.session.expire(instance)
