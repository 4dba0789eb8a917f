"""The metering outbox's spool files: a bad line never fails a call and never hides the good
ones, an entry the database refuses for good is parked (kept, listed) instead of retried
forever, and two processes keeping and draining at once lose and repeat nothing."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.models.base import utcnow
from webapp.services import llm
from webapp.services.llm import metering, outbox

HI = [{"role": "user", "content": "Hi"}]
SECRET = "sk-in-a-torn-line-0001"


@pytest.fixture(autouse=True)
def empty_outbox(app) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    directory = outbox._directory()
    shutil.rmtree(directory)
    outbox._next_check = 0.0
    yield outbox._directory()
    shutil.rmtree(directory, ignore_errors=True)


def row(request_id: str, **changes: Any) -> dict[str, Any]:
    """A usage row as metering spools it (the columns that have no default)."""
    values = {
        "created_at": utcnow(),
        "rolled": False,
        "request_id": request_id,
        "caller": "api",
        "operation": "chat",
        "status": "ok",
        "stream": False,
        "estimated": False,
        "usage_adjusted": False,
        "unpriced": False,
        "credential_id": None,
    }
    return {**values, **changes}


def line(request_id: str, **changes: Any) -> bytes:
    return outbox.dumps({"row": row(request_id, **changes), "hold": None}).encode()


def request_ids() -> list[str]:
    db.session.rollback()
    return sorted(db.session.scalars(sa.select(UsageRecord.request_id)))


def spooled(directory: Path) -> list[Path]:
    return sorted(directory.glob("outbox-*.jsonl"))


def test_a_garbage_line_never_fails_a_call_and_the_good_ones_still_land(
    wired, member, empty_outbox, caplog
):
    (empty_outbox / "outbox-1.jsonl").write_bytes(
        line("before") + b"\n" + f'{{"row": "{SECRET}"'.encode() + b"\n" + line("after") + b"\n"
    )
    with caplog.at_level(logging.INFO):
        reply = llm.complete(HI, context=llm.CallContext(user=member))  # drains the spool
    assert reply.text
    assert request_ids() == sorted(["before", "after", reply.request_id])
    assert spooled(empty_outbox) == []
    quarantined = (empty_outbox / outbox.QUARANTINE).read_bytes()
    assert SECRET.encode() in quarantined and quarantined.count(b"\n") == 1
    assert "line 2 of outbox-1.jsonl" in caplog.text and SECRET not in caplog.text
    state = outbox.state()
    assert (state.pending, state.parked, state.quarantined) == (0, (), 1)


def test_draining_never_raises_into_a_call(wired, member, empty_outbox, monkeypatch):
    (empty_outbox / "outbox-1.jsonl").write_bytes(line("waiting") + b"\n")

    def broken() -> int:
        raise RuntimeError("a bug in the drain")

    monkeypatch.setattr(outbox, "drain", broken)
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    assert reply.text and request_ids() == [reply.request_id]


def test_a_torn_last_line_is_quarantined_and_the_next_entry_stays_whole(empty_outbox):
    path = empty_outbox / "outbox-1.jsonl"
    path.write_bytes(line("whole") + b"\n" + line("torn")[:40])  # a write cut by a crash
    outbox.spool.append(path, [line("kept-after")])  # what keep() does next
    assert outbox.drain() == 2
    assert request_ids() == ["kept-after", "whole"]
    assert (empty_outbox / outbox.QUARANTINE).read_bytes() == line("torn")[:40] + b"\n"
    assert spooled(empty_outbox) == []


def test_a_whole_last_line_without_its_newline_still_lands(empty_outbox):
    (empty_outbox / "outbox-1.jsonl").write_bytes(line("first") + b"\n" + line("second"))
    assert outbox.drain() == 2
    assert request_ids() == ["first", "second"]
    assert not (empty_outbox / outbox.QUARANTINE).exists()


def test_an_entry_refused_for_good_is_parked_and_never_blocks_the_others(
    empty_outbox, runner, client
):
    outbox.keep({"row": row("refused", status="no-such-status"), "hold": None})
    outbox.keep({"row": row("behind-it"), "hold": None})
    assert outbox.drain() == 1
    assert request_ids() == ["behind-it"]
    for _ in range(outbox.PARK_AFTER - 1):
        assert outbox.drain() == 0
    assert spooled(empty_outbox) == []  # no longer retried on every drain…
    (parked,) = outbox.state().parked  # …but kept, and shown
    assert (parked.request_id, parked.attempts, parked.failure) == (
        "refused",
        outbox.PARK_AFTER,
        "IntegrityError",
    )
    result = runner.invoke(args=["usage", "outbox"])
    assert result.exit_code == 1
    assert "parked refused: refused 5 times (IntegrityError)" in result.output
    assert "pending=0 parked=1 quarantined=0" in result.output
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["metering_outbox"] == {"pending": 0, "parked": 1, "quarantined": 0}


def test_a_parked_entry_lands_when_retried_after_its_cause_is_fixed(
    empty_outbox, runner, monkeypatch
):
    real = metering.persist

    def refusing(entry, *, replay=False):  # type: ignore[no-untyped-def]
        raise IntegrityError("INSERT", {}, Exception("a row it needs is missing"))

    monkeypatch.setattr(metering, "persist", refusing)
    outbox.keep({"row": row("fixed-later"), "hold": None})
    for _ in range(outbox.PARK_AFTER):
        outbox.drain()
    assert [p.request_id for p in outbox.state().parked] == ["fixed-later"]
    monkeypatch.setattr(metering, "persist", real)  # the admin fixed the cause
    result = runner.invoke(args=["usage", "outbox", "--retry"])
    assert "retried=1 landed=1" in result.output and result.exit_code == 0
    assert request_ids() == ["fixed-later"]
    assert outbox.state().empty


def test_while_the_database_is_unreachable_every_entry_waits(empty_outbox, monkeypatch):
    calls: list[str] = []

    def unreachable(entry, *, replay=False):  # type: ignore[no-untyped-def]
        calls.append(entry["row"]["request_id"])
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(metering, "persist", unreachable)
    for name in ("a", "b", "c", "d"):
        outbox.keep({"row": row(name), "hold": None})
    for _ in range(outbox.PARK_AFTER + 1):
        assert outbox.drain() == 0
    # A drain gives up after a couple of tries, not one try (and timeout) per entry.
    assert calls == ["a", "b"] * (outbox.PARK_AFTER + 1)
    assert outbox.state().pending == 4 and outbox.state().parked == ()


def test_an_entry_stuck_on_a_lock_holds_up_no_other(empty_outbox, monkeypatch):
    real = metering.persist

    def locked_for_one(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if entry["row"]["request_id"] == "stuck":
            raise OperationalError("INSERT", {}, Exception("lock timeout"))
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", locked_for_one)
    for name in ("stuck", "one", "two"):
        outbox.keep({"row": row(name), "hold": None})
    assert outbox.drain() == 2
    assert request_ids() == ["one", "two"]
    assert outbox.state().pending == 1 and outbox.state().parked == ()  # tried again later


# Two processes keeping and draining the same spool directory at once.

ENTRIES_PER_PROCESS = 150


def _hammer(directory: str, tag: str, landed: str) -> None:
    """In a child process: keep entries, draining every few, each landing written down."""
    import os
    import time

    from flask import Flask

    from webapp.services.llm import metering, outbox

    def persist(entry, *, replay=False):  # type: ignore[no-untyped-def]
        time.sleep(0.0005)  # a database round trip: other processes run meanwhile
        fd = os.open(landed, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (entry["row"]["request_id"] + "\n").encode())
        finally:
            os.close(fd)

    metering.persist = persist  # type: ignore[assignment]
    app = Flask("hammer", instance_path=directory)
    with app.app_context():
        for i in range(ENTRIES_PER_PROCESS):
            outbox.keep({"row": row(f"{tag}-{i}"), "hold": None})
            if i % 4 == 3:
                outbox.drain()
        outbox.drain()


def test_two_processes_keeping_and_draining_lose_and_repeat_nothing(tmp_path):
    landed = tmp_path / "landed.txt"
    context = multiprocessing.get_context("spawn")

    def run(*tags: str) -> None:
        workers = [
            context.Process(target=_hammer, args=(str(tmp_path), tag, str(landed))) for tag in tags
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
            assert worker.exitcode == 0

    run("a", "b")
    run("last")  # alone: drains whatever the other two left
    expected = sorted(
        [f"{tag}-{i}" for tag in ("a", "b") for i in range(ENTRIES_PER_PROCESS)]
        + [f"last-{i}" for i in range(ENTRIES_PER_PROCESS)]
    )
    written = landed.read_text().split()
    assert len(written) == len(set(written)), "an entry was written twice"
    assert sorted(written) == expected, f"{len(expected) - len(written)} entries lost"
    assert not list((tmp_path / outbox.DIRECTORY).glob("outbox-*.jsonl"))


def test_a_spooled_line_is_exactly_what_was_kept(empty_outbox):
    outbox.keep({"row": row("round-trip", cost_usd=None), "hold": None})
    (path,) = spooled(empty_outbox)
    (data,) = [json.loads(raw) for raw in path.read_bytes().splitlines()]
    assert data["row"]["request_id"] == "round-trip" and path.stat().st_mode & 0o077 == 0
