"""Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

import sqlite3
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
from sqlalchemy.orm import DeclarativeBase

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


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys (off by default), wait on locks, read while writing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
