"""Throw-away databases for tests that need one of their own (start-up races, migrations):
a SQLite file, or a fresh schema when ``TEST_DATABASE_URL`` points at PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import _postgres_url, make_app
from webapp.extensions import db


def postgres_base() -> str | None:
    from webapp.config import normalize_database_url

    base = os.environ.get("TEST_DATABASE_URL", "").strip()
    return normalize_database_url(base) if base else None


@contextmanager
def fresh_database(tmp_path: Path, name: str = "fresh") -> Iterator[str]:
    """The URL of an empty database, dropped afterwards."""
    base = postgres_base()
    if base is None:
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
        return
    schema = f"sb{name}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_url(base, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own (not yet migrated)."""
    with fresh_database(tmp_path, "mig") as url:
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
