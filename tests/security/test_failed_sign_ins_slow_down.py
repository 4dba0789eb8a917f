"""Failed sign-ins are logged (account and address, never the password) and slow down the
account *from that address* with growing delays — answered 429 with Retry-After, without
checking the password — so nobody can lock someone else out. The per-address limit stays.
Counters are shared through Redis when configured; both storages are tested. Every place
that checks a password (sign-in, the prompt before dangerous actions, the current password
of a password change) counts alike, in one count per account and address."""

from __future__ import annotations

import logging
import socket
import uuid

import pytest

from tests import factories
from tests.conftest import make_app
from tests.security.sign_in_helpers import sign_in
from webapp.services.accounts import sign_in_throttle as throttle
from webapp.services.accounts import users

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def attacker() -> str:
    """An address of this test alone: Flask-Limiter's per-address counts in a shared Redis
    outlive one test (its key prefix is fixed by the first app it was bound to)."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:1"


@pytest.fixture
def owner() -> str:
    return f"2001:db8::{uuid.uuid4().hex[:4]}:2"


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The app, counting in memory or in Redis (under a prefix of its own, removed after)."""
    if request.param == "memory":
        yield {"RATELIMIT_STORAGE_URI": "memory://"}
        return
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"sbtest-{uuid.uuid4().hex[:12]}"
    yield {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"*{prefix}*"):
        connection.delete(key)


@pytest.fixture
def throttled(request: pytest.FixtureRequest, storage):  # type: ignore[no-untyped-def]
    # The per-address limit is tested on its own below; here it must not interfere.
    config = {"LOGIN_RATE_LIMIT": "100 per minute", **storage}
    request.node.add_marker(pytest.mark.app_config(**config))
    return request.getfixturevalue("app")


def _attempt(client, email: str, password: str, address: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _fail(client, email: str, times: int, address: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        assert _attempt(client, email, "wrong password!", address).status_code == 422


def test_delays_start_after_five_failures_double_and_stop_at_fifteen_minutes():
    delays = [throttle.delay_after(n) for n in range(1, 17)]
    assert delays[:4] == [0, 0, 0, 0]
    assert delays[4:10] == [2, 4, 8, 16, 32, 64]
    assert delays[-1] == 15 * 60 and max(delays) == 15 * 60


def test_a_failed_sign_in_is_logged_without_the_password(client, member, caplog, attacker):
    caplog.set_level(logging.DEBUG)
    _attempt(client, "Member@Example.com", "my secret guess 42", attacker)
    (record,) = [r for r in caplog.records if "failed sign-in" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "member@example.com" in record.getMessage() and attacker in record.getMessage()
    assert "my secret guess 42" not in caplog.text


def test_unknown_accounts_are_logged_and_slowed_alike(client, caplog, attacker):
    caplog.set_level(logging.WARNING)
    _fail(client, "nobody@example.com", 5, attacker)
    assert _attempt(client, "nobody@example.com", "anything at all", attacker).status_code == 429
    assert caplog.text.count("failed sign-in for account 'nobody@example.com'") == 5


def test_after_five_failures_the_pair_waits_and_the_password_is_not_checked(
    throttled, member, monkeypatch, caplog, attacker
):
    client = throttled.test_client()
    _fail(client, member.email, 5, attacker)
    checked: list[str] = []
    real = users.authenticate
    monkeypatch.setattr(users, "authenticate", lambda e, p: checked.append(e) or real(e, p))
    caplog.set_level(logging.WARNING)
    response = _attempt(client, member.email, factories.PASSWORD, attacker)  # even the right one
    assert response.status_code == 429 and response.headers["Retry-After"] in ("1", "2")
    assert "Try again in" in response.get_data(as_text=True)
    assert checked == []
    assert "refused unchecked" in caplog.text


def test_nobody_can_lock_the_owner_out_from_elsewhere(throttled, member, attacker, owner):
    client = throttled.test_client()
    _fail(client, member.email, 5, attacker)
    assert _attempt(client, member.email, factories.PASSWORD, attacker).status_code == 429
    other = throttled.test_client()
    assert _attempt(other, member.email, factories.PASSWORD, owner).status_code == 303


def test_delays_grow_with_each_failure_after_a_wait(throttled, member, attacker):
    client = throttled.test_client()
    _fail(client, member.email, 5, attacker)
    with throttled.test_request_context():
        _, wait_key = throttle._keys(member.email, attacker)
        for expected in (4, 8, 16):
            throttle._storage().clear(wait_key)  # the wait ran out
            response = _attempt(client, member.email, "still wrong!!", attacker)
            assert response.status_code == 422  # checked, failed: the next wait doubles
            response = _attempt(client, member.email, factories.PASSWORD, attacker)
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) in (expected - 1, expected)


def test_a_success_ends_the_run_of_failures(throttled, member, attacker):
    client = throttled.test_client()
    _fail(client, member.email, 4, attacker)
    assert _attempt(client, member.email, factories.PASSWORD, attacker).status_code == 303
    client.post("/logout")
    _fail(client, member.email, 4, attacker)  # four more are free again
    assert _attempt(client, member.email, factories.PASSWORD, attacker).status_code == 303


@pytest.mark.app_config(LOGIN_RATE_LIMIT="3 per minute")
def test_the_per_address_limit_still_caps_guesses_across_accounts(client, attacker):
    for i in range(3):
        response = _attempt(client, f"user{i}@example.com", "some guess 1", attacker)
        assert response.status_code == 422
    response = _attempt(client, "user9@example.com", "some guess 1", attacker)
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_the_password_prompt_before_dangerous_actions_counts_too(app, admin, attacker):
    client = app.test_client()
    assert _attempt(client, admin.email, factories.PASSWORD, attacker).status_code == 303
    where = {"REMOTE_ADDR": attacker}
    for _ in range(5):
        response = client.post("/reauth", data={"password": "wrong guess!"}, environ_base=where)
        assert response.status_code == 422
    response = client.post("/reauth", data={"password": factories.PASSWORD}, environ_base=where)
    assert response.status_code == 429 and response.headers["Retry-After"]


@pytest.mark.committed  # two more apps, each with connections of their own
def test_redis_shares_the_counts_between_workers(database_url, instance_path, member, attacker):
    """Two app instances (two gunicorn workers) see the same failures through Redis."""
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"sbtest-{uuid.uuid4().hex[:12]}"
    config = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    first, second = (make_app(database_url, instance_path, **config) for _ in range(2))
    try:
        _fail(first.test_client(), member.email, 5, attacker)
        # The state is in Redis itself, where every worker process reads it …
        (counter,) = connection.scan_iter(f"*{prefix}/sign-in/failures/*")
        assert connection.get(counter) == b"5" and connection.ttl(counter) > 0
        (wait,) = connection.scan_iter(f"*{prefix}/sign-in/wait/*")
        assert 0 < connection.ttl(wait) <= 2
        # … and never the email in clear.
        assert all(b"member" not in key for key in connection.scan_iter(f"*{prefix}*"))
        response = _attempt(second.test_client(), member.email, factories.PASSWORD, attacker)
        assert response.status_code == 429
    finally:
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)


# --- Every password check is throttled alike ---------------------------------------------
# The current password of a password change is a password check too: a stolen session must
# not guess at it without limit. One count per account and address for all of them.

NEW_PASSWORD = "a brand new passphrase 9"


def _change(client, current: str, address: str, **kw):  # type: ignore[no-untyped-def]
    data = {"current_password": current, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return client.post("/account/password", data=data, environ_base={"REMOTE_ADDR": address}, **kw)


def _password_unchanged(member) -> bool:  # type: ignore[no-untyped-def]
    from werkzeug.security import check_password_hash

    from webapp.extensions import db
    from webapp.models import User

    db.session.expire_all()
    return check_password_hash(db.session.get(User, member.id).password_hash, factories.PASSWORD)


def test_guessing_the_current_password_slows_down_and_is_logged(
    throttled, member, attacker, caplog
):
    client = sign_in(throttled, member.email)
    caplog.set_level(logging.WARNING)
    for _ in range(5):
        assert _change(client, "a wrong guess 1", attacker).status_code == 422
    failures = [r for r in caplog.records if "failed password change" in r.getMessage()]
    assert len(failures) == 5 and all(r.levelno == logging.WARNING for r in failures)
    assert "member@example.com" in failures[0].getMessage()
    assert attacker in failures[0].getMessage()
    response = _change(client, factories.PASSWORD, attacker, headers={"HX-Request": "true"})
    assert response.status_code == 429 and response.headers["Retry-After"] in ("1", "2")
    assert "Try again in" in response.headers["HX-Trigger"]
    assert "refused unchecked" in caplog.text
    assert "a wrong guess 1" not in caplog.text and factories.PASSWORD not in caplog.text
    assert _password_unchanged(member)  # even the right password was not checked


def test_the_owner_changes_their_password_from_elsewhere(throttled, member, attacker, owner):
    client = sign_in(throttled, member.email)
    for _ in range(6):
        _change(client, "a wrong guess 1", attacker)
    assert _change(client, factories.PASSWORD, owner).status_code == 303
    assert not _password_unchanged(member)


def test_sign_in_the_prompt_and_the_password_change_share_one_count(throttled, member, attacker):
    client = sign_in(throttled, member.email)
    for _ in range(2):
        assert _change(client, "a wrong guess 1", attacker).status_code == 422
    where = {"REMOTE_ADDR": attacker}
    for _ in range(3):
        response = client.post("/reauth", data={"password": "wrong guess!"}, environ_base=where)
        assert response.status_code == 422
    other = throttled.test_client()
    assert _attempt(other, member.email, factories.PASSWORD, attacker).status_code == 429
    assert _change(client, factories.PASSWORD, attacker).status_code == 429


@pytest.mark.app_config(LOGIN_RATE_LIMIT="3 per minute")
def test_the_per_address_limit_caps_password_changes_too(app, member, attacker):
    client = sign_in(app, member.email)
    for _ in range(3):
        assert _change(client, "a wrong guess 1", attacker).status_code == 422
    assert _change(client, "a wrong guess 1", attacker).status_code == 429
