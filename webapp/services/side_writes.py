"""Writes that must not ride on the caller's transaction: metering, test bookkeeping.

The call service may run while its caller has changes pending in ``db.session``; it must
neither commit them nor lose its own write when the caller rolls back. These writes use a
connection and a transaction of their own. The test suite replaces ``own_transaction`` so
that they join the test's rolled-back transaction instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from webapp.extensions import db

WROTE = "switchboard.flushed"  # Session.info: the open transaction has written something


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_write(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(WROTE, None)


def release_connection() -> None:
    """Before waiting on a provider, hand the caller's database connection back to the pool
    if its transaction only read: a call can take minutes and hundreds may wait at once,
    and a call holding a connection while metering takes another could drain the pool.
    Loaded objects stay loaded; a transaction that wrote is left alone."""
    if not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or session.info.get(WROTE):
        return
    if session.new or session.dirty or session.deleted:
        return
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()  # nothing to write: just ends the read-only transaction
    finally:
        session.expire_on_commit = expire


def own_transaction(
    redo: Callable[[], None] | None = None, *, single_statements: bool = False
) -> AbstractContextManager[Connection]:
    """``with own_transaction() as connection:`` — committed when the block ends.

    ``redo`` writes the same thing again from scratch; only the test suite uses it (to
    re-apply a side write its rolled-back test transaction undid, when the statements
    depend on ids the database handed out).

    ``single_statements``: the block's statements are each complete on their own (one
    statement that must land whole, plus bookkeeping that may land apart from it). On
    PostgreSQL they then run in autocommit, which saves the BEGIN and COMMIT round trips;
    each statement is still atomic. Elsewhere it changes nothing.

    The caller's session gives its connection back first when it only read, so one thread
    never holds two connections (a pool of N serves N threads without a deadlock).
    """
    release_connection()
    if single_statements and db.engine.dialect.name == "postgresql":
        return _autocommit(db.engine.connect())
    return db.engine.begin()


@contextmanager
def _autocommit(connection: Connection) -> Iterator[Connection]:
    """``connection`` with its driver in autocommit, put back before the pool has it again.

    What ``execution_options(isolation_level="AUTOCOMMIT")`` does, without SQLAlchemy's
    generic set-and-reset of connection characteristics (a third of a side write's CPU)."""
    with connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.autocommit = True
        try:
            yield connection
        finally:
            if not connection.invalidated:
                try:
                    driver.autocommit = False
                except Exception as exc:  # a connection that broke meanwhile is not reused
                    connection.invalidate(exc)


def forget_cached(model: type[Any], row_id: int) -> None:
    """Expire ``db.session``'s copy of a row another connection just changed, if it has one."""
    instance = db.session.identity_map.get(db.session.identity_key(model, row_id))
    if instance is not None:
        db.session.expire(instance)


@dataclass(frozen=True)
class DriverSQL:
    """A Core statement compiled once, to run on the driver's own cursor (``execute_on_driver``).

    For the few statements every call runs (the money hold, the usage record with its
    settlement): SQLAlchemy's per-execution work — cache key, parameter processing, result
    objects — costs about as much CPU as the driver's own, tens of microseconds a statement.
    The SQL and parameter conversions are still SQLAlchemy's, for the engine's dialect."""

    sql: str
    defaults: dict[str, Any]  # values of binds that have one and no SQL literal form
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]  # the binds' type conversions


@functools.lru_cache(maxsize=512)
def driver_sql(statement: ClauseElement, dialect: Dialect) -> DriverSQL:
    """``statement`` compiled for ``dialect`` (cached: pass statements built once).

    Binds with a value of their own (``sa.literal(0)``, a function's constant arguments) are
    written into the SQL: the driver then has fewer parameters to convert on every call, and
    psycopg keeps its parsed form only for statements with at most 50 of them."""
    if dialect.paramstyle != "pyformat":  # psycopg's
        raise ValueError(f"parameters as %(name)s only, not {dialect.paramstyle}")
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    sql = compiled.string
    if compiled.escaped_bind_names or "POSTCOMPILE" in sql:
        raise ValueError("the statement needs SQLAlchemy at execution time")
    binds = {name: bind for bind, name in compiled.bind_names.items()}  # as named in the SQL
    defaults: dict[str, Any] = {}
    for name, bind in list(binds.items()):
        if bind.required:
            continue
        literal = bind.type.dialect_impl(dialect).literal_processor(dialect)
        if literal is None and bind.value is not None:
            defaults[name] = bind.value
            continue
        text = "NULL" if bind.value is None else literal(bind.value)  # type: ignore[misc]
        sql = sql.replace(f"%({name})s", text.replace("%", "%%"))
        del binds[name]
    return DriverSQL(
        sql=sql,
        defaults=defaults,
        processors=tuple(
            (name, process)
            for name, bind in binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ),
    )


def execute_on_driver(
    connection: Connection, statement: ClauseElement, parameters: dict[str, Any]
) -> tuple[Any, ...] | None:
    """Run ``statement`` on ``connection``'s driver cursor; its first row, if it returns rows.
    Driver errors are raised as SQLAlchemy's (``IntegrityError`` …), as ``execute`` does, and a
    connection the database dropped is not given back to the pool. Listeners of
    ``before_cursor_execute`` (statement counters: tests, benchmarks) see it as any other."""
    dialect = connection.dialect
    prepared = driver_sql(statement, dialect)
    values = {**prepared.defaults, **parameters}
    for name, process in prepared.processors:
        values[name] = process(values[name])
    driver = connection.connection.driver_connection
    assert driver is not None  # a live connection (a closed one raised above)
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = driver.cursor()
    try:
        if connection._has_events or connection.engine._has_events:
            _announce(connection, cursor, prepared.sql, values)
        cursor.execute(prepared.sql, values)
        return cursor.fetchone() if cursor.description else None
    except dbapi_error as exc:
        gone = dialect.is_disconnect(exc, driver, cursor)
        if gone:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            prepared.sql,
            values,
            exc,
            dbapi_error,
            connection_invalidated=gone,
            dialect=dialect,
            ismulti=False,
        ) from exc
    finally:
        cursor.close()


def _announce(connection: Connection, cursor: Any, sql: str, values: dict[str, Any]) -> None:
    """``before_cursor_execute`` for a statement SQLAlchemy does not run itself (no execution
    context: ``None``). Only when someone listens: the check costs the hot path nothing."""
    for listener in connection.dispatch.before_cursor_execute:
        listener(connection, cursor, sql, values, None, False)
