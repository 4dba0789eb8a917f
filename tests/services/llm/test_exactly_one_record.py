"""Exactly one usage record per call, whatever happens: a reader that hangs up mid-stream
through a real HTTP server, and a metering write that fails once — faked, and for real on
the database — and lands later."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import CreditEntry, Reservation, UsageRecord
from webapp.services import llm
from webapp.services.billing import ledger
from webapp.services.llm import metering, outbox

HI = [{"role": "user", "content": "Hi"}]


def _records() -> list[UsageRecord]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(UsageRecord).order_by(UsageRecord.id)))


def _sign_in(host: str, port: int, email: str) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    body = urlencode({"email": email, "password": factories.PASSWORD})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    assert response.status == 303
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    conn.close()
    return cookie


@pytest.mark.committed
def test_a_reader_hanging_up_mid_stream_leaves_one_cancelled_record(wired, admin, live_server):
    wired.script("openai.chat", Reply.drip(0.002, text="a long reply " * 400))
    url = urlsplit(live_server)
    cookie = _sign_in(url.hostname, url.port, admin.email)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    form = urlencode(
        {"user_id": admin.id, "prompt": "Tell me a story", "model": "openai/gpt-5.4-mini"}
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    conn.request("POST", "/admin/playground/stream", form, headers)
    response = conn.getresponse()
    assert response.status == 200
    request_id = response.getheader("X-Request-Id")
    assert response.read1(64)  # the first bytes of the reply arrived…
    response.close()  # …and the reader hangs up
    conn.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [r for r in _records() if r.request_id == request_id]
        if found:
            break
        time.sleep(0.1)
    (record,) = [r for r in _records() if r.request_id == request_id]
    assert record.status == "cancelled" and record.error_type == "cancelled"
    assert record.input_tokens and record.estimated  # billed for what was streamed
    time.sleep(0.3)
    assert len([r for r in _records() if r.request_id == request_id]) == 1


def test_a_metering_write_that_fails_lands_later_exactly_once(wired, admin, member, monkeypatch):
    ledger.post_entry(admin, ledger.Owner("user", member.id), Decimal(5), kind="grant", note=None)
    real, calls = metering.persist, []

    def flaky(entry, *, replay=False):  # type: ignore[no-untyped-def]
        calls.append(replay)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database went away"))
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", flaky)
    reply = llm.complete(HI, context=llm.CallContext(user=member))  # the reply is not failed
    assert reply.text and _records() == []
    assert any(outbox._directory().glob("outbox-*.jsonl"))
    monkeypatch.setattr(outbox, "_next_check", 0.0)
    second = llm.complete(HI, context=llm.CallContext(user=member))  # drains the outbox
    ids = [r.request_id for r in _records()]
    assert sorted(ids) == sorted([reply.request_id, second.request_id])
    assert not any(outbox._directory().glob("outbox-*.jsonl"))
    charged = db.session.scalars(sa.select(CreditEntry).where(CreditEntry.kind == "charge"))
    assert sorted(e.request_id for e in charged) == sorted(ids)
    assert ledger.check_balances() == []
    assert outbox.drain() == 0  # nothing twice


@contextlib.contextmanager
def sqlite_write_lock() -> Iterator[None]:
    """Another connection holds SQLite's write lock; the app's writes give up after 0.2 s
    (instead of its 10 s) with "database is locked"."""
    short_wait = lambda dbapi, *_: dbapi.execute("PRAGMA busy_timeout=200")  # noqa: E731
    sa.event.listen(db.engine, "checkout", short_wait)
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()
        sa.event.remove(db.engine, "checkout", short_wait)
        db.engine.dispose()  # the connections with the short wait go


@contextlib.contextmanager
def postgres_backend_killed(url: str) -> Iterator[None]:
    """Another connection locks the usage records; whichever backend waits on that lock is
    terminated (only those this lock blocks: the server is shared)."""
    engine = sa.create_engine(url)
    locker = engine.connect()
    locker.execute(sa.text("LOCK TABLE usage_records IN ACCESS EXCLUSIVE MODE"))
    locker_pid = locker.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    done = threading.Event()

    def terminate_waiters() -> None:
        with engine.connect() as killer:
            while not done.is_set():
                killer.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE :locker = ANY(pg_blocking_pids(pid))"
                    ),
                    {"locker": locker_pid},
                )
                killer.commit()
                time.sleep(0.02)

    thread = threading.Thread(target=terminate_waiters, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        locker.rollback()
        locker.close()
        engine.dispose()


@pytest.mark.committed
def test_a_real_database_fault_during_metering_fails_no_reply_and_lands_once(
    wired, admin, member, monkeypatch, database_url
):
    shutil.rmtree(outbox._directory())
    ledger.post_entry(admin, ledger.Owner("user", member.id), Decimal(5), kind="grant", note=None)
    real, faults = metering.persist, []

    def with_a_fault(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if faults:
            return real(entry, replay=replay)
        faults.append(entry["row"]["request_id"])
        if db.engine.dialect.name == "sqlite":
            fault = sqlite_write_lock()
        else:
            fault = postgres_backend_killed(database_url)
        with fault:
            return real(entry, replay=replay)  # fails for real, and the reply…

    monkeypatch.setattr(metering, "persist", with_a_fault)
    reply = llm.complete(HI, context=llm.CallContext(user=member), model="openai/gpt-5.4-mini")
    assert reply.text and faults == [reply.request_id]  # …is returned all the same
    assert _records() == [] and outbox.state().pending == 1
    second = llm.complete(HI, context=llm.CallContext(user=member))  # drains the outbox
    ids = sorted(r.request_id for r in _records())
    assert ids == sorted([reply.request_id, second.request_id])
    charged = db.session.scalars(sa.select(CreditEntry).where(CreditEntry.kind == "charge"))
    assert sorted(e.request_id for e in charged) == ids
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reservation)) == 0
    assert ledger.check_balances() == [] and ledger.check_reserved() == []
    assert outbox.drain() == 0 and outbox.state().empty
    assert len(_records()) == 2


def test_an_outbox_entry_that_already_landed_is_not_written_again(wired, member):
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    (record,) = _records()
    row = {c.name: getattr(record, c.name) for c in UsageRecord.__table__.columns if c.name != "id"}
    outbox.keep({"row": row, "hold": None})
    assert outbox.drain() == 1  # "landed": the replay found it already there
    assert [r.request_id for r in _records()] == [reply.request_id]


def test_a_user_deleted_during_the_call_still_leaves_its_record(wired, member, monkeypatch):
    real = metering.persist

    def user_gone_meanwhile(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if not replay:
            entry["row"]["user_id"] = 987654  # a row that no longer exists
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", user_gone_meanwhile)
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    (record,) = _records()
    assert record.request_id == reply.request_id and record.user_id is None
    assert not any(outbox._directory().glob("outbox-*.jsonl"))


def test_a_stream_still_running_at_shutdown_is_metered_once(wired, member):
    from webapp.services.llm import inflight

    stream = llm.stream(HI, context=llm.CallContext(user=member))
    events = iter(stream)
    next(events)  # streaming when the server stops
    assert inflight.count() == 1
    assert inflight.meter_all() == 1
    (record,) = _records()
    assert record.status == "cancelled" and record.request_id == stream.request_id
    events.close()  # the stream ends after all: no second record
    assert len(_records()) == 1 and inflight.count() == 0
