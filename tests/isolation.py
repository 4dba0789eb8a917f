"""The two ways a test gets a clean database (see the docstring of tests/conftest.py).

*Rolled back*: the test's connection opens a transaction; every session of the app (the
test's own and each request's) joins it through a SAVEPOINT, so the services' commits
release savepoints and nothing outlives the test. *Committed*: writes really commit and the
tables are emptied and seeded again afterwards.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from limits.storage import MemoryStorage
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from webapp.extensions import db, limiter
from webapp.services.settings import cache as settings_cache
from webapp.services.side_writes import execute_on_driver as _execute_on_driver
from webapp.services.system import health as system_health

# In the rolled-back mode any wait on a lock is a test waiting on itself: fail fast instead.
ROLLBACK_LOCK_WAIT_MS = 1000
SETTLED = "tests.settled"  # Session.info key: its savepoint was ended before a request
SIDE_WRITES = "tests.side_writes"  # Session.info key: side writes made inside its savepoint


@dataclass(frozen=True)
class Binding:
    connection: Connection
    thread: int


_bindings: WeakKeyDictionary[Flask, Binding] = WeakKeyDictionary()


class CommittedOnlyError(RuntimeError):
    """The database was used in a way that needs ``@pytest.mark.committed``."""


class _JoinsTestConnection:
    """Session mixin: while a rolled-back test runs, its app's sessions use its connection."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        if bind is None and has_app_context():
            binding = _bindings.get(current_app._get_current_object())  # type: ignore[attr-defined]
            if binding is not None:
                if binding.thread != threading.get_ident():
                    raise CommittedOnlyError(
                        "another thread used the database of a rolled-back test: mark the test "
                        "@pytest.mark.committed"
                    )
                return binding.connection
        return super().get_bind(mapper, clause, bind, **kw)  # type: ignore[misc]

    def rollback(self) -> None:
        # A session settled before a request may have no transaction left to roll back;
        # expire what it loaded anyway, as rolling back the one it stood for would have.
        if self.info.pop(SETTLED, False) and self.get_transaction() is None:  # type: ignore[attr-defined]
            self.expire_all()  # type: ignore[attr-defined]
        side_writes = self.info.pop(SIDE_WRITES, [])
        super().rollback()  # type: ignore[misc]
        _replay(side_writes)

    def close(self) -> None:
        side_writes = self.info.pop(SIDE_WRITES, [])
        super().close()  # type: ignore[misc]
        _replay(side_writes)

    def commit(self) -> None:
        super().commit()  # type: ignore[misc]
        self.info.pop(SIDE_WRITES, None)


@dataclass
class _SideWrites:
    """What ``side_writes.own_transaction`` becomes in a rolled-back test.

    In production a side write (metering) has a connection of its own and survives whatever
    its caller does. Here it is a SAVEPOINT on the test's one connection, which ends up inside
    the savepoint of the session that was active — so the statements are remembered and run
    again if that session rolls back (or is closed without committing), as if they had been
    written elsewhere.
    """

    connection: Connection
    statements: list[tuple[Any, Any]]
    redo: Any = None  # re-applies the whole write (statements that use returned ids)

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        self.statements.append((statement, parameters))
        return self.connection.execute(statement, parameters)

    def execute_on_driver(self, statement: Any, parameters: Any) -> Any:
        """``side_writes.execute_on_driver`` on the test's connection (the same driver path)."""
        self.statements.append((statement, parameters))
        return _execute_on_driver(self.connection, statement, parameters)

    def __getattr__(self, name: str) -> Any:  # dialect, scalar… as the connection has them
        return getattr(self.connection, name)


def _replay(statements: list[Any]) -> None:
    if not statements or not _bindings:
        return
    connection = next(iter(_bindings.values())).connection
    for item in statements:
        if callable(item):
            item()  # a side write that knows how to write itself again
            continue
        statement, parameters = item
        with connection.begin_nested():
            connection.execute(statement, parameters)


def _on_driver_in_tests(connection: Any, statement: Any, parameters: Any) -> Any:
    if isinstance(connection, _SideWrites):
        return connection.execute_on_driver(statement, parameters)
    return _execute_on_driver(connection, statement, parameters)


def install() -> None:
    """Once per process: sessions may join a test's connection; second connections fail fast."""
    factory = db.session.session_factory
    if not issubclass(factory.class_, _JoinsTestConnection):
        factory.class_ = type("TestSession", (_JoinsTestConnection, factory.class_), {})
    factory.configure(join_transaction_mode="create_savepoint")
    if not event.contains(Engine, "connect", _second_connection_waits_briefly):
        event.listen(Engine, "connect", _second_connection_waits_briefly)
        event.listen(Engine, "handle_error", _explain_lock_wait)


def _second_connection_waits_briefly(dbapi_connection: Any, _record: Any) -> None:
    """A connection opened while a rolled-back test runs cannot wait for it: fail, not hang."""
    if _bindings:
        _limit_lock_waits(dbapi_connection)


def _explain_lock_wait(context: ExceptionContext) -> None:
    """A second connection gave up waiting on a rolled-back test's locks: say what to do."""
    if not _bindings or any(b.connection is context.connection for b in _bindings.values()):
        return
    error = context.original_exception
    locked = "database is locked" in str(error) or getattr(error, "sqlstate", None) == "55P03"
    if locked:
        raise CommittedOnlyError(
            "a second connection waited on the rolled-back test's transaction: mark the test "
            "@pytest.mark.committed"
        ) from error


def _limit_lock_waits(dbapi_connection: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout={ROLLBACK_LOCK_WAIT_MS}")
    else:  # PostgreSQL: SET is transactional, so commit it
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {ROLLBACK_LOCK_WAIT_MS}")
        dbapi_connection.commit()


def prepare_for_rollback(app: Flask) -> None:
    """Make the app's engine fit for savepoints and quick to fail on a lock wait."""
    with app.app_context():
        engine = db.engine
    event.listen(engine, "connect", _on_connect)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "begin", _sqlite_begin)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # pysqlite's own BEGIN handling breaks SAVEPOINTs: SQLAlchemy emits BEGIN itself
        # (the documented workaround). The app's pragmas ran before, outside a transaction.
        dbapi_connection.isolation_level = None
    _limit_lock_waits(dbapi_connection)


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


@contextmanager
def _savepoint_on(connection: Connection, redo: Any = None) -> Iterator[_SideWrites]:
    """A side write in a rolled-back test: a SAVEPOINT on the test's connection (a second
    connection would wait on the test's locks), replayed if the enclosing session rolls back."""
    writes = _SideWrites(connection, [], redo)
    with connection.begin_nested():
        yield writes
    if db.session.registry.has() and db.session().in_transaction():
        replay = [redo] if redo is not None else writes.statements
        db.session().info.setdefault(SIDE_WRITES, []).extend(replay)


@contextmanager
def rolled_back(app: Flask) -> Iterator[Connection]:
    """Everything the app commits meanwhile is undone at the end.

    Inside another ``rolled_back`` of the same app (the transaction of data a module's tests
    share, ``module_app`` in tests/conftest.py), it is a SAVEPOINT on that transaction's connection:
    undone back to where that transaction stood.
    """
    if (outer := _bindings.get(app)) is not None:
        with _rolled_back_to_savepoint(outer):
            yield outer.connection
        return
    from webapp.services import side_writes

    with app.app_context():
        engine = db.engine
    connection = engine.connect()
    transaction = connection.begin()
    _bindings[app] = Binding(connection, threading.get_ident())
    own_transaction = side_writes.own_transaction
    side_writes.own_transaction = lambda redo=None, **_: _savepoint_on(connection, redo)
    side_writes.execute_on_driver = _on_driver_in_tests
    try:
        yield connection
    finally:
        side_writes.own_transaction = own_transaction
        side_writes.execute_on_driver = _execute_on_driver
        _bindings.pop(app, None)
        if transaction.is_active:
            transaction.rollback()
        connection.close()


@contextmanager
def _rolled_back_to_savepoint(outer: Binding) -> Iterator[None]:
    if outer.thread != threading.get_ident():
        raise CommittedOnlyError("a rolled-back test ran in another thread than its module's data")
    savepoint = outer.connection.begin_nested()
    try:
        yield
    finally:
        if not savepoint.is_active:
            raise RuntimeError(
                "the test ended its savepoint on the module's shared transaction (a rollback "
                "of the whole transaction?): the module's shared data is gone"
            )
        savepoint.rollback()


def in_shared_transaction() -> bool:
    """True while the data of a module's tests is kept in a rolled-back transaction: another
    connection to the database would wait on its locks."""
    return bool(_bindings)


def settle_test_session() -> None:
    """Before a test's request: end the test session's savepoint if it holds nothing unsaved.

    The request's commits then do not sit inside that savepoint, so a later
    ``db.session.rollback()`` in the test (to see what the request saved) keeps them, as it
    would with real commits. Loaded objects are not expired (the next rollback expires them).
    """
    if not has_app_context() or current_app._get_current_object() not in _bindings:  # type: ignore[attr-defined]
        return
    if not db.session.registry.has():
        return
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return
    if session.new or session.dirty or session.deleted:
        return
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
    session.info[SETTLED] = True


@contextmanager
def fresh_app_state(app: Flask) -> Iterator[None]:
    """The app's caches start empty; its config and extensions are put back afterwards."""
    config, extensions = dict(app.config), dict(app.extensions)
    # The settings cache (and the catalog snapshot kept in it) trusts a database counter
    # that a rollback sets back: a new test must never inherit it.
    app.extensions.pop(settings_cache.EXTENSION, None)
    # Likewise the cached start-up checks (schema state, encryption keys): a test that set
    # them to "behind" or "missing key" must not leave them so for the next.
    app.extensions.pop(system_health.EXTENSION, None)
    try:
        yield
    finally:
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)
        app.extensions.pop(settings_cache.EXTENSION, None)
        app.extensions.pop(system_health.EXTENSION, None)


@contextmanager
def kept_process_state() -> Iterator[None]:
    """Module-level state starts and ends empty: SDK clients and rate-limit counters; the
    one rate limiter, which every app built meanwhile re-binds, is put back as it was."""
    limiter_state = dict(vars(limiter))
    _clear_process_caches()
    try:
        yield
    finally:
        vars(limiter).clear()
        vars(limiter).update(limiter_state)
        _clear_process_caches()


def limiter_binding() -> dict[str, Any]:
    """The one rate limiter's binding to the app built last (its storage and settings)."""
    return dict(vars(limiter))


def restore_limiter_binding(binding: dict[str, Any]) -> None:
    """Bind the rate limiter back to an app built earlier, with none of its old counters
    (``kept_process_state`` puts the previous binding back after the test)."""
    vars(limiter).clear()
    vars(limiter).update(binding)
    storage = getattr(limiter, "_storage", None)
    if isinstance(storage, MemoryStorage):  # never a shared Redis
        storage.reset()


def _clear_process_caches() -> None:
    # Imported here: the SDKs take seconds to import, which xdist's controller need not pay.
    from webapp.services.llm import clients as llm_clients
    from webapp.services.llm import metering

    llm_clients.clear()
    metering._last_used.clear()  # credential ids repeat from one test to the next
    from webapp.services.billing import reservations
    from webapp.services.credentials import pools
    from webapp.services.llm import cooldown, inflight

    reservations._last_sweep[0] = float("-inf")
    pools.clear()
    cooldown.reset()
    inflight._calls.clear()  # a test's abandoned calls are not the next test's
    from webapp.services.tokens import auth_throttle

    auth_throttle.clear()  # addresses one test made wait, within the same frozen minute
    storage = getattr(limiter, "_storage", None)
    if isinstance(storage, MemoryStorage):  # never a shared Redis
        storage.reset()


def empty_all_tables(app: Flask) -> None:
    """The committed mode's cleanup: every table emptied (identities restarted)."""
    with app.app_context():
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())


Rows = list[tuple[sa.Table, list[dict[str, Any]]]]
_seeded: dict[str, Rows] = {}  # per database: the rows the first seed wrote


def seed(app: Flask) -> None:
    """The catalog every test starts from, committed.

    Seeded through the services once per database; after that (each committed test empties
    the tables) the rows that first seed wrote are copied back, in a tenth of the time.
    """
    from webapp.services.catalog.seed import seed_all

    with app.app_context():
        database = db.engine.url.render_as_string(hide_password=False)
        if database in _seeded:
            copy_back(_seeded[database])
            return
        seed_all()
        db.session.remove()
        _seeded[database] = all_rows()


def all_rows() -> Rows:
    """Every row of every table, parents first."""
    with db.engine.connect() as conn:
        tables = [
            (t, [dict(r._mapping) for r in conn.execute(t.select())])
            for t in db.metadata.sorted_tables
        ]
    return [(table, rows) for table, rows in tables if rows]


def copy_back(rows: Rows) -> None:
    """Insert ``rows`` into the emptied tables; PostgreSQL's id sequences continue after them."""
    with db.engine.begin() as conn:
        for table, values in rows:
            conn.execute(table.insert(), values)
            if conn.dialect.name == "postgresql" and "id" in table.c:
                conn.execute(
                    sa.text(
                        "SELECT setval(pg_get_serial_sequence(:name, 'id'), max(id)) "
                        f'FROM "{table.name}"'
                    ),
                    {"name": f'"{table.name}"'},
                )


def dispose(app: Flask) -> None:
    """Close the app's pooled connections."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
