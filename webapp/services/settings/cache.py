"""A per-process cache of settings layers, invalidated through a database version counter.

Every settings write bumps ``app_counters.settings_version`` in its own transaction. Each
process re-reads the counter at most every ``CHECK_INTERVAL`` seconds and drops its cache
when the number moved, so every process sees a change within one second, with no broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.models import AppCounter

COUNTER = "settings_version"
CHECK_INTERVAL = 0.25
EXTENSION = "switchboard.settings_cache"
T = TypeVar("T")


def _upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE``: one statement, so concurrent first bumps cannot
    both insert the row (an update-then-insert lets two writers race to an IntegrityError)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(AppCounter).values(name=COUNTER, value=1)
    return statement.on_conflict_do_update(
        index_elements=[AppCounter.name], set_={"value": AppCounter.value + 1}
    )


def bump_settings_version() -> None:
    """Call inside the transaction of any settings, catalog or org write (before commit)."""
    db.session.execute(
        _upsert(db.session.get_bind().dialect.name),
        execution_options={"synchronize_session": False},
    )
    cache = current_app.extensions.get(EXTENSION)
    if cache is not None:
        cache.invalidate_after_commit()


def read_version() -> int:
    """The counter, read on a connection of its own: a check of the cache never opens a
    transaction on the caller's session (which would then hold its connection)."""
    from webapp.services import side_writes

    query = sa.select(AppCounter.value).where(AppCounter.name == COUNTER)
    with side_writes.own_transaction() as connection:
        return connection.execute(query).scalar() or 0


class SettingsCache:
    """Memoises loaders by key for one settings version."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Any, Any] = {}
        self._version: int | None = None
        self._checked_at = float("-inf")
        self.loads = 0  # how many times a loader ran (for tests and benchmarks)

    def invalidate_after_commit(self) -> None:
        """This process wrote: check the counter again at the next lookup."""
        self._checked_at = float("-inf")

    def clear(self) -> None:
        with self._lock:
            self._entries = {}
            self._version = None
            self._checked_at = float("-inf")

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked_at < CHECK_INTERVAL:
            return
        version = read_version()
        with self._lock:
            if version != self._version:
                self._entries = {}
                self._version = version
            self._checked_at = now

    def get(self, key: Any, loader: Callable[[], T]) -> T:
        self._refresh()
        entries = self._entries
        if key in entries:
            return entries[key]
        value = loader()
        self.loads += 1
        entries[key] = value
        return value


def settings_cache() -> SettingsCache:
    cache = current_app.extensions.get(EXTENSION)
    if cache is None:
        cache = current_app.extensions[EXTENSION] = SettingsCache()
    return cache
