"""Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from typing import Any

from flask import Response, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool

# Deterministic constraint names keep migrations portable (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base sharing one metadata with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)


class SwitchboardLoginManager(LoginManager):
    """Flask-Login, deleting the remember-me cookie with the attributes it was set with."""

    def _clear_cookie(self, response: Response) -> None:
        # Flask-Login deletes without ``Secure``; browsers ignore such a deletion of a
        # ``__Host-`` cookie, which would then linger (harmless, its token is rotated, but noisy).
        config = current_app.config
        response.delete_cookie(
            config["REMEMBER_COOKIE_NAME"],
            path=config.get("REMEMBER_COOKIE_PATH", "/"),
            domain=config.get("REMEMBER_COOKIE_DOMAIN"),
            secure=bool(config.get("REMEMBER_COOKIE_SECURE")),
            httponly=True,
            samesite=config.get("REMEMBER_COOKIE_SAMESITE"),
        )


login_manager = SwitchboardLoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
htmx_ext = Htmx()


def sqlite_file(database: str, uri: bool = False) -> str | None:
    """The file path behind a pysqlite ``database`` argument (None: in memory)."""
    if uri or database.startswith("file:"):
        path, _, query = database.removeprefix("file:").partition("?")
        return None if "mode=memory" in query or not path else path
    return None if database in ("", ":memory:") else database


@event.listens_for(Engine, "do_connect")
def _private_sqlite_file(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> None:
    """Create a new SQLite database file readable by its owner only, before SQLite creates it
    with the umask's mode (usually world-readable). Its -wal, -shm and -journal files take
    the database file's mode, so they are private too."""
    if dialect.name != "sqlite" or not cargs:
        return
    path = sqlite_file(str(cargs[0]), bool(cparams.get("uri")))
    if path is None or os.path.exists(path):
        return
    # Another process may have created it a moment ago; a missing folder or a read-only one
    # is left for SQLite to report in its own words.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys (off by default), wait on locks, read while writing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL syncs at checkpoints instead of every commit: a killed process
        # loses nothing that committed; only a power failure may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# A pooled connection is pinged before use only when it sat idle this long: one used a
# moment ago was working then, and a ping on every checkout is a round trip per transaction
# (two or three per LLM call). A database restart within the window costs at most one failed
# statement per process: the disconnect invalidates the whole pool.
PING_AFTER_IDLE_S = 1.0
_RETURNED = "switchboard.returned_at"


@event.listens_for(Pool, "checkin")
def _note_return(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_RETURNED] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling for connections that sat idle (raising
    DisconnectionError makes the pool replace the connection and try again)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        return  # a file, not a server: nothing to lose in between
    returned = record.info.get(_RETURNED)
    if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
        return  # new (it just connected) or used a moment ago
    autocommit = getattr(dbapi_connection, "autocommit", None)
    try:
        if autocommit is False:  # psycopg: a ping must not leave a transaction open
            dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if autocommit is False:
            dbapi_connection.autocommit = False
    except Exception as exc:
        raise DisconnectionError(f"idle connection is gone: {type(exc).__name__}") from exc
