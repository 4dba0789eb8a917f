"""Migrations cannot hurt what they do not own, never leave a schema half-changed, and
0002_hardening carries every existing row over (and back)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, migrate, upgrade

from tests.conftest import make_app
from tests.security.databases import fresh_database
from webapp.extensions import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
pytestmark = pytest.mark.committed


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own (not yet migrated)."""
    with fresh_database(tmp_path, "mig") as url:
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


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
        down="0002_hardening", fail='raise RuntimeError("deliberate failure")' if fail else "pass"
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
    assert revision() == {"0002_hardening"}
    write_half_way(migrations_copy, fail=False)
    upgrade(directory=str(migrations_copy))
    assert revision() == {"0099_half_way"}
    assert "half_way" in tables() and "half_way_note" in columns("providers")
    with db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT half_way_note FROM providers")) == "touched"
        assert conn.scalar(sa.text("SELECT count(*) FROM half_way")) == 1
    downgrade(directory=str(migrations_copy), revision="0002_hardening")
    assert "half_way" not in tables() and revision() == {"0002_hardening"}


def test_application_connections_keep_sqlites_usual_transactions_after_migrating(fresh_app):
    """The migration connection's own BEGIN handling must not leak into the app's pool."""
    upgrade()
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.connection.driver_connection.isolation_level == ""


# --- 0002_hardening carries the data over, and back -----------------------------------------

NOW = datetime(2026, 11, 1, 12, 0)


def _seed_0001(conn: sa.Connection) -> None:
    """Rows as 0001_initial stored them: a user, providers with and without base URLs, keys
    with and without their own base URL, host-only and host:port allowed hosts."""
    stamps = {"created_at": NOW, "updated_at": NOW, "version": 1}
    conn.execute(
        sa.table(
            "users",
            *(
                sa.column(c)
                for c in [
                    "id",
                    "email",
                    "password_hash",
                    "role",
                    "mode",
                    "active",
                    "session_nonce",
                    "created_at",
                    "updated_at",
                    "version",
                ]
            ),
        ).insert(),
        [
            {
                "id": 1,
                "email": "old@example.com",
                "password_hash": "x",
                "role": "admin",
                "mode": "managed",
                "active": True,
                "session_nonce": "a" * 32,
                **stamps,
            }
        ],
    )
    providers = sa.table(
        "providers",
        *(
            sa.column(c)
            for c in [
                "id",
                "slug",
                "display_name",
                "protocol",
                "base_url",
                "credit_multiplier",
                "enabled",
                "is_preset",
                "created_at",
                "updated_at",
                "version",
            ]
        ),
    )
    common = {"credit_multiplier": 1, "enabled": True, "is_preset": False, **stamps}
    conn.execute(
        providers.insert(),
        [
            {"id": 1, "slug": "openai", "display_name": "OpenAI", "protocol": "openai",
             "base_url": None, **common},
            {"id": 2, "slug": "ollama", "display_name": "Ollama", "protocol": "openai_compatible",
             "base_url": "http://localhost:11434/v1", **common},
            {"id": 3, "slug": "lab", "display_name": "Lab", "protocol": "openai_compatible",
             "base_url": "https://lab.internal/v1", **common},
        ],
    )  # fmt: skip
    credentials = sa.table(
        "credentials",
        *(
            sa.column(c)
            for c in [
                "id",
                "scope",
                "owner_key",
                "provider_id",
                "label",
                "base_url",
                "secret_ciphertext",
                "secret_hint",
                "last_test_status",
                "created_at",
                "updated_at",
                "version",
            ]
        ),
    )
    key = {
        "scope": "global",
        "owner_key": "global",
        "label": "default",
        "secret_hint": "1234",
        "last_test_status": "unknown",
        **stamps,
    }
    conn.execute(
        credentials.insert(),
        [
            {"id": 1, "provider_id": 1, "base_url": None, "secret_ciphertext": "v1:AAAA", **key},
            {"id": 2, "provider_id": 3, "base_url": "https://gpu-box.internal:8443/v1",
             "secret_ciphertext": "v1:BBBB", **key},
        ],
    )  # fmt: skip
    hosts = sa.table("allowed_hosts", *(sa.column(c) for c in ["id", "host", "note", "created_at"]))
    conn.execute(
        hosts.insert(),
        [
            {"id": 1, "host": "localhost", "note": "ollama", "created_at": NOW},
            {"id": 2, "host": "gpu-box.internal", "note": None, "created_at": NOW},
            {"id": 3, "host": "10.0.0.5:8000", "note": "vllm", "created_at": NOW},
            {"id": 4, "host": "quiet.internal", "note": None, "created_at": NOW},
        ],
    )


def test_0002_backfills_origins_tokens_and_host_ports_and_downgrades_without_loss(fresh_app):
    upgrade(revision="0001_initial")
    with db.engine.begin() as conn:
        _seed_0001(conn)
    upgrade(revision="0002_hardening")
    with db.engine.connect() as conn:
        token = conn.scalar(sa.text("SELECT session_token FROM users WHERE id = 1"))
        must_change = conn.scalar(sa.text("SELECT must_change_password FROM users"))
        env_origins = dict(
            conn.execute(sa.text("SELECT slug, env_key_origin FROM providers")).all()
        )
        approved = dict(conn.execute(sa.text("SELECT id, approved_origin FROM credentials")).all())
        hosts = set(conn.execute(sa.text("SELECT host, port FROM allowed_hosts")).all())
        notes = dict(conn.execute(sa.text("SELECT host, note FROM allowed_hosts")).all())
    assert len(token) == 64 and int(token, 16) and token != "a" * 32
    assert not must_change
    assert env_origins == {
        "openai": "https://api.openai.com:443",
        "ollama": "http://localhost:11434",
        "lab": "https://lab.internal:443",
    }
    assert approved == {1: "https://api.openai.com:443", 2: "https://gpu-box.internal:8443"}
    assert hosts == {
        ("localhost", 11434),  # host-only: the port its stored base URL uses
        ("gpu-box.internal", 8443),  # host-only: the port a key's own base URL uses
        ("10.0.0.5", 8000),  # host:port: split
        ("quiet.internal", 80),  # host-only and unused: the two web ports, not every port
        ("quiet.internal", 443),
    }
    assert notes["localhost"] == "ollama" and notes["10.0.0.5"] == "vllm"

    downgrade(revision="0001_initial")
    with db.engine.connect() as conn:
        user = conn.execute(sa.text("SELECT email, session_nonce FROM users")).one()
        urls = dict(conn.execute(sa.text("SELECT slug, base_url FROM providers")).all())
        keys = dict(conn.execute(sa.text("SELECT id, secret_ciphertext FROM credentials")).all())
        entries = set(conn.scalars(sa.text("SELECT host FROM allowed_hosts")))
    assert user.email == "old@example.com" and len(user.session_nonce) == 32
    assert urls == {
        "openai": None,
        "ollama": "http://localhost:11434/v1",
        "lab": "https://lab.internal/v1",
    }
    assert keys == {1: "v1:AAAA", 2: "v1:BBBB"}
    assert entries == {
        "localhost:11434",
        "gpu-box.internal:8443",
        "10.0.0.5:8000",
        "quiet.internal:80",
        "quiet.internal:443",
    }
    assert "org_invitations" not in tables() and "approved_origin" not in columns("credentials")
    upgrade()  # and forward again
    assert revision() == {"0002_hardening"}
