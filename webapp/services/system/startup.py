"""What every process does once when it starts: check the schema, seed the presets, make
sure an admin exists, check that the encryption keys can read the stored secrets.

Several gunicorn workers start at the same moment on a fresh database, so the steps that
write run one process at a time (a PostgreSQL advisory lock, or SQLite's write lock taken
by ``BEGIN IMMEDIATE``), and each of them is also safe to repeat if another process got
there first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from webapp.config import ConfigError
from webapp.extensions import db
from webapp.services.system.health import health

log = logging.getLogger(__name__)
T = TypeVar("T")

# pg_advisory_xact_lock key: any constant other applications on the database do not use.
STARTUP_LOCK_ID = 0x5377_6974_6368  # "Switch"
# SQLite: how long a starting process waits for another one's start-up work in all.
SQLITE_LOCK_WAIT_SECONDS = 120.0


def _begin_immediate() -> None:
    """Take SQLite's write lock, waiting (busy_timeout at a time) up to the deadline."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    while True:
        try:
            db.session.execute(sa.text("BEGIN IMMEDIATE"))
            return
        except OperationalError as exc:
            busy = getattr(exc.orig, "sqlite_errorname", "") == "SQLITE_BUSY"
            db.session.rollback()
            if not busy or time.monotonic() > deadline:
                raise


@contextmanager
def startup_lock() -> Iterator[None]:
    """A transaction no other starting process is inside at the same time, held until the
    work in the block commits (or is rolled back when it leaves the block)."""
    db.session.rollback()  # the lock must be the first statement of a fresh transaction
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": STARTUP_LOCK_ID})
    elif dialect == "sqlite":
        _begin_immediate()
    try:
        yield
    finally:
        db.session.rollback()


def exclusively(step: Callable[[], T]) -> T:
    """Run one start-up step (which commits its own work) under the start-up lock."""
    with startup_lock():
        return step()


def seed_and_admin(app: Flask) -> None:
    """The presets, then the first admin: each under the lock, each idempotent."""
    from webapp.services.accounts.users import ensure_admin
    from webapp.services.catalog.seed import seed_all
    from webapp.services.errors import ValidationError

    exclusively(seed_all)
    email = app.config["SWITCHBOARD_ADMIN_EMAIL"]
    password = app.config["SWITCHBOARD_ADMIN_PASSWORD"]
    try:
        user, generated = exclusively(lambda: ensure_admin(email, password))
    except ValidationError as exc:
        raise ConfigError(f"SWITCHBOARD_ADMIN_EMAIL / _PASSWORD: {exc.message}") from None
    if user is not None and generated is not None:
        click.echo(
            f"\n  Created admin {user.email} with password: {generated}\n"
            "  (shown once; choose your own with SWITCHBOARD_ADMIN_EMAIL and\n"
            "  SWITCHBOARD_ADMIN_PASSWORD)\n",
            err=True,
        )
    elif user is not None:
        log.info("created admin %s from SWITCHBOARD_ADMIN_EMAIL", user.email)


def settle_leftovers() -> None:
    """Metering that a previous process spooled, and money held by calls that never
    finished: write the first, release the second (each exactly once)."""
    from webapp.services.billing.reservations import sweep_expired
    from webapp.services.llm import outbox

    try:
        outbox.drain()
        sweep_expired()
    except Exception:  # never keep the app from starting: the next call tries again
        log.exception("could not settle the metering outbox or expired reservations at start")


def run_start_up(app: Flask) -> None:
    """Check the schema; when it is current, seed (if configured) and check the keys."""
    with app.app_context():
        checks = health()
        state = checks.schema.get(fresh=True)
        if not state.current:
            log.warning("%s Pages answer 503 until it is.", state.describe())
            return
        if app.config["SEED_ON_START"]:
            seed_and_admin(app)
        checks.keys.get(fresh=True)  # logs every key version that cannot be decrypted
        settle_leftovers()
        db.session.remove()
        # gunicorn --preload forks workers from this process: they must not share its sockets.
        db.engine.dispose()
