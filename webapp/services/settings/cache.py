"""A per-process cache of settings layers, invalidated through a database version counter.

Every settings write bumps ``app_counters.settings_version`` in its own transaction. Each
process re-reads the counter at most every ``CHECK_INTERVAL`` seconds and drops its cache
when the number moved, so every process sees a change within a quarter of a second, with no
broker; the process that wrote drops its cache the moment its transaction commits.

What the call path caches beyond settings — the catalog, providers, stored keys (decrypted)
and allowed hosts — rides on the same counter. Any ORM write of those rows bumps it in the
writer's own transaction (``_watch_writes``), whichever service or import made it, so no
write path can forget to; Core writes of them call ``bump_settings_version`` (or
``bump_on``) themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

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
    """Call inside the transaction of any settings, catalog or org write (before commit).
    Once per transaction is enough: a second call (or a watched flush) adds nothing."""
    session = db.session()
    session.info[DROP_CACHE] = True
    if not session.info.get(BUMPED):
        session.execute(
            _upsert(session.get_bind().dialect.name),
            execution_options={"synchronize_session": False},
        )
        session.info[BUMPED] = True
    _local_cache_stale()


def bump_on(connection: Connection) -> None:
    """The same bump inside a Core transaction of its own (``side_writes.own_transaction``);
    this process drops its cache at once, the others at their next check."""
    connection.execute(_upsert(connection.dialect.name))
    _local_cache_stale()


def _local_cache_stale() -> None:
    if not has_app_context():
        return
    cache = current_app.extensions.get(EXTENSION)
    if cache is not None:
        cache.invalidate_after_commit()


# Session.info: the counter moved in this transaction (a second bump adds nothing), and this
# process drops its cache when the transaction ends.
BUMPED = "switchboard.settings_bumped"
DROP_CACHE = "switchboard.settings_drop_cache"
# Rows the call path caches: an ORM insert, change or delete of one bumps the counter.
_WATCHED: tuple[type, ...] = ()
_WATCHED_DELETES: tuple[type, ...] = ()  # only their deletion matters (cascades to keys)


def _watched() -> tuple[tuple[type, ...], tuple[type, ...]]:
    global _WATCHED, _WATCHED_DELETES
    if not _WATCHED:
        from webapp.models import (
            AllowedHost,
            CatalogModel,
            Credential,
            Organization,
            Provider,
            User,
        )

        _WATCHED = (AllowedHost, CatalogModel, Credential, Provider)
        _WATCHED_DELETES = (Organization, User)
    return _WATCHED, _WATCHED_DELETES


def _touches_cached_rows(session: Session) -> bool:
    watched, deletes = _watched()
    for instance in session.new:
        if isinstance(instance, watched):
            return True
    for instance in session.deleted:
        if isinstance(instance, watched + deletes):
            return True
    return any(
        isinstance(instance, watched) and session.is_modified(instance, include_collections=False)
        for instance in session.dirty
    )


@event.listens_for(Session, "after_flush")
def _watch_writes(session: Session, _context: Any) -> None:
    """A flush that wrote a key, provider, model or allowed host bumps the counter in the
    same transaction: the cached copies go the moment it commits, in every process. After
    the rows, never before: every writer locks its rows first and the counter last, so a
    key edit and an encryption-key rotation cannot deadlock."""
    if session.info.get(BUMPED) or not _touches_cached_rows(session):
        return
    session.info[BUMPED] = session.info[DROP_CACHE] = True
    connection = session.connection()
    connection.execute(_upsert(connection.dialect.name))
    _local_cache_stale()


@event.listens_for(Session, "after_transaction_end")
def _drop_after_write(session: Session, transaction: Any) -> None:
    """This process wrote cached rows: its cache goes the moment the transaction ends, not a
    check interval later — on commit (a lookup by another thread between the bump and the
    commit may have kept the old rows) and on rollback (this session may have read its own
    uncommitted rows into the cache)."""
    if transaction.parent is not None:
        return
    session.info.pop(BUMPED, None)
    if not session.info.pop(DROP_CACHE, None):
        return
    if has_app_context():
        cache = current_app.extensions.get(EXTENSION)
        if cache is not None:
            cache.clear()


@event.listens_for(Session, "after_soft_rollback")
def _bump_undone(session: Session, _previous: Any) -> None:
    """A rolled-back savepoint may have undone the bump: the next write bumps again."""
    session.info.pop(BUMPED, None)


def read_version() -> int:
    """The counter, read on a connection of its own: a check of the cache never opens a
    transaction on the caller's session (which would then hold its connection)."""
    from webapp.services import side_writes

    query = sa.select(AppCounter.value).where(AppCounter.name == COUNTER)
    with side_writes.own_transaction(single_statements=True) as connection:
        return connection.execute(query).scalar() or 0


class SettingsCache:
    """Memoises loaders by key for one settings version."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Any, Any] = {}
        self._version: int | None = None
        self._checked_at = float("-inf")
        # Writes in this process so far, and the count a check in flight started after (None:
        # no check in flight). See ``_refresh``.
        self._writes = 0
        self._checking: int | None = None
        self.loads = 0  # how many times a loader ran (for tests and benchmarks)

    def invalidate_after_commit(self) -> None:
        """This process wrote: check the counter again at the next lookup."""
        with self._lock:
            self._writes += 1
            self._checked_at = float("-inf")

    def clear(self) -> None:
        with self._lock:
            self._entries = {}
            self._version = None
            self._checked_at = float("-inf")
            self._writes += 1

    def _refresh(self) -> None:
        """Read the counter at most every ``CHECK_INTERVAL``, and once at a time: when the
        interval runs out under load, hundreds of requests (greenlets or threads) would
        otherwise all read it at once and take a database connection each. While one check
        is in flight the others keep the entries they have — unless this process wrote
        since that check started, so a process always reads its own writes."""
        now = self._clock()
        if now - self._checked_at < CHECK_INTERVAL:
            return
        with self._lock:
            in_flight = self._checking is not None and self._checking == self._writes
            if in_flight and self._version is not None:
                return  # the check in flight answers for this request too
            started = self._writes
            self._checking = started
        try:
            version = read_version()
        finally:
            with self._lock:
                if self._checking == started:
                    self._checking = None
        with self._lock:
            if version != self._version:
                self._entries = {}
                self._version = version
            if self._writes == started:  # a write meanwhile: the next lookup checks again
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
