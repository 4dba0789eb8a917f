"""Shared set-up for benchmarks: a migrated, seeded app on SQLite or a PostgreSQL schema."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from webapp import create_app

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)


@contextlib.contextmanager
def bench_app(engine: str, **config: object) -> Iterator[Flask]:
    """A fresh app on ``sqlite`` or ``postgresql``, migrated and seeded; removed afterwards."""
    from flask_migrate import upgrade

    from webapp.services.catalog.seed import seed_all

    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        if engine == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(pg_url())
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            url = f"{pg_url()}?options=-csearch_path%3D{schema}"
        os.environ["SWITCHBOARD_INSTANCE_PATH"] = tmp
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SEED_ON_START": False,
                "SECRET_KEY": "bench-secret-key-0123456789",
                **config,
            }
        )
        try:
            with app.app_context():
                upgrade()
                seed_all()
                yield app
                from webapp.extensions import db

                db.session.remove()
                db.engine.dispose()
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0.5, 0.95, 0.99 …) of ``values``."""
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1]
