"""The test fixtures' isolation: rolled-back tests leave nothing behind and fail loudly where
they would need real commits; committed tests commit."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError

from tests import factories, isolation
from tests.conftest import login, make_app
from webapp.extensions import db, limiter
from webapp.models import AppCounter, Organization, Provider, User
from webapp.services.catalog.seed import seed_all
from webapp.services.credentials import crypto
from webapp.services.settings.cache import settings_cache


def _emails(app: Flask) -> set[str]:
    """What another connection sees: only what was really committed."""
    with app.app_context(), db.engine.connect() as other:
        return set(other.scalars(sa.select(User.email)))


def test_commits_of_a_rolled_back_test_are_undone(_shared_app: Flask):
    with isolation.rolled_back(_shared_app), _shared_app.app_context():
        factories.make_user("gone@example.com")  # commits (to a savepoint)
        assert db.session.scalar(sa.select(User.email)) == "gone@example.com"
    assert "gone@example.com" not in _emails(_shared_app)


def test_sqlite_keeps_its_pragmas_and_savepoints_work(app):
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert busy == isolation.ROLLBACK_LOCK_WAIT_MS
    factories.make_org("kept")
    db.session.add(Organization(slug="kept", name="Duplicate"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()  # back to the savepoint: the committed org stays
    assert [o.name for o in db.session.scalars(sa.select(Organization))] == ["Kept"]


def test_a_test_rollback_keeps_what_a_request_committed(admin_client):
    db.session.scalars(sa.select(Organization)).all()  # the test session is in a transaction
    response = admin_client.post("/admin/orgs", data={"slug": "acme", "name": "Acme"})
    assert response.status_code < 400
    db.session.rollback()  # the usual way to see what requests committed
    assert db.session.scalar(sa.select(Organization.slug)) == "acme"


def test_another_thread_using_the_database_is_refused(app):
    failures: list[BaseException] = []

    def query() -> None:
        with app.app_context():
            try:
                db.session.scalar(sa.select(User.id))
            except isolation.CommittedOnlyError as exc:
                failures.append(exc)

    worker = threading.Thread(target=query)
    worker.start()
    worker.join(timeout=10)
    assert failures and "mark the test @pytest.mark.committed" in str(failures[0])


def test_a_second_connection_waiting_on_the_test_fails_fast(app):
    counter = sa.update(AppCounter).values(value=AppCounter.value + 1)
    db.session.execute(counter)  # the test's transaction now holds the rows (and SQLite's lock)
    started = time.monotonic()
    with (
        pytest.raises(isolation.CommittedOnlyError, match="committed"),
        db.engine.connect() as other,
    ):
        other.execute(counter)
    assert time.monotonic() - started < 5 * isolation.ROLLBACK_LOCK_WAIT_MS / 1000


def test_process_state_is_put_back(_shared_app: Flask, database_url, tmp_path):
    app = _shared_app
    ring, storage = app.extensions[crypto.EXTENSION], limiter.storage
    with isolation.kept_process_state(), isolation.fresh_app_state(app), app.app_context():
        cache = settings_cache()
        app.config["WTF_CSRF_ENABLED"] = True
        app.extensions[crypto.EXTENSION] = crypto.parse_keys(crypto.generate_entry("v9"))
        limiter.storage.incr("probe", 60)  # a rate-limit counter
        make_app(database_url, tmp_path)  # re-binds the one rate limiter to its own storage
        assert limiter.storage is not storage
    with app.app_context():
        assert settings_cache() is not cache
    assert app.config["WTF_CSRF_ENABLED"] is False
    assert app.extensions[crypto.EXTENSION] is ring
    assert limiter.storage is storage and storage.get("probe") == 0


@pytest.mark.app_config(LOGIN_RATE_LIMIT="2 per minute")
def test_app_config_gets_its_own_app(app, _shared_app: Flask):
    assert app is not _shared_app and app.config["LOGIN_RATE_LIMIT"] == "2 per minute"
    assert _shared_app.config["LOGIN_RATE_LIMIT"] != "2 per minute"


_apps_seen: list[Flask] = []


@pytest.mark.app_config(LOGIN_RATE_LIMIT="2 per minute")
@pytest.mark.parametrize("turn", [1, 2])
def test_tests_with_the_same_config_share_its_app_and_start_with_no_counters(app, turn):
    """The second test gets the app built for the first, bound to the rate limiter as it was
    built, with its counters empty: its first two sign-ins are not refused."""
    _apps_seen.append(app)
    assert len(set(map(id, _apps_seen))) == 1
    client = app.test_client()
    statuses = [
        client.post("/login", data={"email": "nobody@example.com", "password": "x"}).status_code
        for _ in range(3)
    ]
    assert statuses == [422, 422, 429]


def _without_times(rows: isolation.Rows) -> dict[str, list[dict]]:
    return {
        table.name: [
            {name: value for name, value in row.items() if not isinstance(value, datetime)}
            for row in values
        ]
        for table, values in rows
    }


@pytest.mark.committed
def test_the_seed_copied_back_is_what_the_services_seed(app):
    """After a committed test the seeded rows are copied back rather than seeded again: the
    same rows (but for when they were written), and new rows get the next ids."""
    copied = isolation.all_rows()  # what this committed test started from
    isolation.empty_all_tables(app)
    seed_all()
    assert _without_times(isolation.all_rows()) == _without_times(copied)
    isolation.empty_all_tables(app)
    isolation.copy_back(copied)
    organization = factories.make_org("after-the-seed")
    assert organization.id == 1 + max(
        (row["id"] for table, rows in copied if table.name == "organizations" for row in rows),
        default=0,
    )
    provider = Provider(slug="after", display_name="After", protocol="openai", is_preset=False)
    db.session.add(provider)
    db.session.commit()
    seeded_providers = next(rows for table, rows in copied if table.name == "providers")
    assert provider.id == 1 + max(row["id"] for row in seeded_providers)


@pytest.mark.committed
def test_a_committed_test_really_commits(app, admin):
    assert admin.email in _emails(app)
    assert login(app.test_client(), admin.email)


def test_a_test_inside_module_data_is_rolled_back_to_it(_shared_app: Flask):
    """``module_app``: data built once in an outer transaction; each test is a SAVEPOINT in
    it, undone back to that data, and the data itself is undone at the end."""
    app = _shared_app
    with isolation.rolled_back(app), app.app_context():
        factories.make_org("shared")
        for name in ("first", "second"):
            with isolation.rolled_back(app), app.app_context():
                slugs = set(db.session.scalars(sa.select(Organization.slug)))
                assert slugs == {"shared"}  # the module's data, not the previous test's
                factories.make_org(name)  # commits (releases the session's savepoint)
        assert set(db.session.scalars(sa.select(Organization.slug))) == {"shared"}
    with app.app_context():
        assert db.session.scalar(sa.select(Organization.slug)) is None
