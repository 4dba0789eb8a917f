"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from tests.conftest import _postgres_url, make_app
from webapp.extensions import db
from webapp.models.base import made_on


def _context(connection: sa.Connection) -> MigrationContext:
    """How migrations/env.py compares: an index made only on another database is skipped."""

    def include(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
        return reflected or type_ != "index" or made_on(obj, connection.dialect.name)

    return MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include}
    )


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(_context(connection), db.metadata)
    assert differences == [], f"models and migrations differ: {differences}"


@pytest.mark.committed
def test_upgrade_builds_an_empty_database(tmp_path):
    """``flask db upgrade`` on a database that has nothing in it."""
    base = os.environ.get("TEST_DATABASE_URL", "").strip()
    schema = None
    if base:
        from webapp.config import normalize_database_url

        base = normalize_database_url(base)
        schema = f"sbmig_{uuid.uuid4().hex[:10]}"
        admin_engine = sa.create_engine(base)
        with admin_engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = _postgres_url(base, schema)
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    try:
        fresh = make_app(url, tmp_path)
        with fresh.app_context():
            upgrade()
            inspector = sa.inspect(db.engine)
            tables = set(inspector.get_table_names())
            assert {
                "users",
                "providers",
                "models",
                "credentials",
                "parameter_sets",
                "usage_records",
                "credit_entries",
                "budgets",
                "access_tokens",
                "audit_events",
            } <= tables
            with db.engine.connect() as connection:
                assert compare_metadata(_context(connection), db.metadata) == []
                version = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
            assert version
            db.engine.dispose()
    finally:
        if schema:
            with admin_engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin_engine.dispose()
