"""What Switchboard writes to disk is its owner's alone: the instance folder (0700 when
Switchboard creates it), the generated secret key and encryption keys, the SQLite database
and its -wal/-shm files (0600) — created that way, never widened first and narrowed after."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from webapp import create_app
from webapp.config import create_private_file, load_config
from webapp.extensions import db, sqlite_file
from webapp.services.credentials.crypto import load_keyring


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def no_secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "SWITCHBOARD_ENCRYPTION_KEYS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_generated_secrets_and_their_folder_are_owner_only(tmp_path, no_secrets_in_env):
    instance = tmp_path / "instance"
    load_config(instance, {})
    load_keyring(instance, "development")
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600
    assert mode(instance / "encryption_keys") == 0o600


def test_an_existing_instance_folder_keeps_the_mode_the_operator_chose(tmp_path, no_secrets_in_env):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o750)
    load_config(instance, {})
    assert mode(instance) == 0o750 and mode(instance / "secret_key") == 0o600


def test_the_default_sqlite_database_and_its_wal_files_are_owner_only(
    tmp_path, no_secrets_in_env, monkeypatch
):
    from flask_migrate import upgrade

    instance = tmp_path / "instance"
    monkeypatch.setenv("SWITCHBOARD_INSTANCE_PATH", str(instance))
    app = create_app({"SWITCHBOARD_ENV": "testing", "SEED_ON_START": False})
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:  # a write, while the connection keeps -wal/-shm
            conn.execute(sa.text("INSERT INTO app_counters (name, value) VALUES ('x', 1)"))
            files = sorted(instance.glob("switchboard.db*"))
            assert {p.name for p in files} >= {"switchboard.db", "switchboard.db-wal"}
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        db.engine.dispose()


def test_any_new_sqlite_file_is_created_owner_only(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert mode(tmp_path / "other.db") == 0o600


@pytest.mark.parametrize(
    ("database", "uri", "path"),
    [
        ("/srv/sb.db", False, "/srv/sb.db"),
        (":memory:", False, None),
        ("", False, None),
        ("file:/srv/sb.db?mode=rwc", True, "/srv/sb.db"),
        ("file:mem?mode=memory&cache=shared", True, None),
    ],
)
def test_sqlite_paths_are_read_from_the_driver_arguments(database, uri, path):
    assert sqlite_file(database, uri) == path


def test_workers_generating_a_secret_at_once_all_get_the_same_one(tmp_path):
    target = tmp_path / "instance" / "secret"
    barrier, results = threading.Barrier(4), []

    def generate(value: str) -> None:
        barrier.wait()
        results.append(create_private_file(target, value))

    threads = [threading.Thread(target=generate, args=(f"value-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and target.read_text() == results[0]
    assert mode(target) == 0o600
