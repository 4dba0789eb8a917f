"""Migrations cannot hurt what they do not own and never leave a schema half-changed: a
failed migration can simply be run again."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, migrate, upgrade

from tests.security import databases
from webapp.extensions import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
pytestmark = pytest.mark.committed
fresh_app = databases.fresh_app  # an app on an empty database of its own


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """The real migrations (env.py included) in a folder a test may add scripts to."""
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns(table)}


def head() -> str:
    """The newest revision of the real migrations (the tests follow it as migrations land)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(Path(__file__).resolve().parents[2] / "migrations")
    )
    return str(ScriptDirectory.from_config(config).get_current_head())


def revision() -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))


# --- autogenerate leaves other people's tables alone --------------------------------------


def test_autogenerate_proposes_nothing_for_a_table_it_does_not_own(fresh_app, migrations_copy):
    upgrade(directory=str(migrations_copy))
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE reporting_snapshots (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("DROP TABLE seed_records"))  # ours, and missing: must be proposed
    before = set((migrations_copy / "versions").glob("*.py"))
    migrate(directory=str(migrations_copy), message="drift")
    created = set((migrations_copy / "versions").glob("*.py")) - before
    assert len(created) == 1
    script = created.pop().read_text()
    assert "create_table('seed_records'" in script or 'create_table("seed_records"' in script
    assert "reporting_snapshots" not in script
    assert "reporting_snapshots" in tables()


# --- a failing migration leaves nothing behind ---------------------------------------------

FAILING = '''"""A migration that fails half-way.

Revision ID: 0099_half_way
Revises: {down}
Create Date: 2026-12-01 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0099_half_way"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_way", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("half_way_note", sa.String(length=20), nullable=True))
    op.execute("UPDATE providers SET half_way_note = 'touched'")
    op.execute("INSERT INTO half_way (id) VALUES (1)")
    {fail}


def downgrade():
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("half_way_note")
    op.drop_table("half_way")
'''


def write_half_way(migrations: Path, *, fail: bool) -> None:
    script = FAILING.format(
        down=head(), fail='raise RuntimeError("deliberate failure")' if fail else "pass"
    )
    (migrations / "versions" / "0099_half_way.py").write_text(script)


def test_a_failed_migration_changes_nothing_and_can_be_run_again(fresh_app, migrations_copy):
    upgrade(directory=str(migrations_copy))
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO providers (slug, display_name, protocol, credit_multiplier, enabled,"
                " is_preset, version, created_at, updated_at) VALUES ('acme', 'Acme',"
                " 'openai', 1, true, false, 1, :now, :now)"
            ),
            {"now": datetime.now(UTC).replace(tzinfo=None)},
        )
    schema_before = {t: columns(t) for t in tables()}
    write_half_way(migrations_copy, fail=True)
    with pytest.raises(SystemExit):  # flask_migrate logs the error and exits
        upgrade(directory=str(migrations_copy))
    db.engine.dispose()
    assert {t: columns(t) for t in tables()} == schema_before
    assert revision() == {head()}
    write_half_way(migrations_copy, fail=False)
    upgrade(directory=str(migrations_copy))
    assert revision() == {"0099_half_way"}
    assert "half_way" in tables() and "half_way_note" in columns("providers")
    with db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT half_way_note FROM providers")) == "touched"
        assert conn.scalar(sa.text("SELECT count(*) FROM half_way")) == 1
    downgrade(directory=str(migrations_copy), revision=head())
    assert "half_way" not in tables() and revision() == {head()}


def test_application_connections_keep_sqlites_usual_transactions_after_migrating(fresh_app):
    """The migration connection's own BEGIN handling must not leak into the app's pool."""
    upgrade()
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.connection.driver_connection.isolation_level == ""
