"""Is the database schema at the migrations' head?"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db

log = logging.getLogger(__name__)

UPGRADE_HINT = "run `flask --app wsgi db upgrade`"


@dataclass(frozen=True)
class SchemaState:
    """``current``, ``empty`` (never migrated), ``behind``, ``ahead`` (migrated by a newer
    release than this code) or ``unreachable``, with the revisions on either side."""

    status: str
    database: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        return self.status == "current"

    def describe(self) -> str:
        """One sentence for the log, /healthz and the maintenance page."""
        found, wanted = ", ".join(self.database) or "none", ", ".join(self.expected)
        return {
            "current": f"The database schema is at {wanted}.",
            "empty": f"The database has no schema yet: {UPGRADE_HINT}.",
            "behind": f"The database schema is at {found}, this release needs {wanted}: "
            f"{UPGRADE_HINT}.",
            "ahead": f"The database schema is at {found}, which this release does not know "
            f"(it expects {wanted}): deploy the release that migrated it.",
            "unreachable": "The database is unreachable.",
        }[self.status]


@functools.cache
def _revisions(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """The heads and all revisions in the migrations folder, read once per process."""
    config = current_app.extensions["migrate"].migrate.get_config(directory)
    script = ScriptDirectory.from_config(config)
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return frozenset(script.get_heads()), known


def read_schema_state() -> SchemaState:
    """Compare the database's alembic_version with the code's migrations (one connection)."""
    heads, known = _revisions(current_app.extensions["migrate"].directory)
    expected = tuple(sorted(heads))
    try:
        with db.engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return SchemaState("empty", (), expected)
            found = set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError as exc:
        log.error("database unreachable: %s", exc.__class__.__name__)
        return SchemaState("unreachable", (), expected)
    database = tuple(sorted(found))
    if found == heads:
        return SchemaState("current", database, expected)
    return SchemaState("ahead" if found - known else "behind", database, expected)


def schema_status() -> str:
    """``current``, ``empty``, ``behind``, ``ahead`` or ``unreachable``."""
    return read_schema_state().status
