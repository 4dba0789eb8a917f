"""Is the database schema at the migrations' head?"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db

log = logging.getLogger(__name__)


def schema_status() -> str:
    """``current``, ``empty`` (never migrated), ``behind`` or ``unreachable``."""
    migrate_ext = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate_ext.migrate.get_config())
    heads = set(script.get_heads())
    try:
        with db.engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return "empty"
            current = set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError as exc:
        log.error("database unreachable: %s", exc.__class__.__name__)
        return "unreachable"
    return "current" if current == heads else "behind"
