"""Metering writes on its own connection: it never commits the caller's pending changes, and
bookkeeping on the key is cheap (last_used at most once a minute, only for calls that worked)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import Credential, Organization, UsageRecord
from webapp.services import llm
from webapp.services.errors import ServiceError
from webapp.services.llm import metering

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def _fresh_last_used():
    metering._last_used.clear()
    yield
    metering._last_used.clear()


def _records() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(UsageRecord)) or 0


@pytest.mark.committed
def test_the_call_service_never_commits_the_callers_pending_changes(wired, member):
    db.session.add(Organization(slug="pending", name="Pending"))  # the caller's unsaved change
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    db.session.rollback()  # the caller changes its mind
    assert db.session.scalar(sa.select(Organization).where(Organization.slug == "pending")) is None
    record = db.session.scalar(
        sa.select(UsageRecord).where(UsageRecord.request_id == reply.request_id)
    )
    assert record is not None and record.status == "ok"  # metering's own write stays


@pytest.mark.committed
def test_a_caller_rolling_back_does_not_lose_the_usage_record(wired, member):
    with pytest.raises(ServiceError):
        llm.complete(HI, context=llm.CallContext(user=member), model="openai/no-such-model")
    db.session.rollback()
    assert _records() == 1


def test_last_used_is_written_once_a_minute_and_only_for_calls_that_worked(
    wired, member, monkeypatch
):
    key = factories.global_key("openai")
    clock = [1000.0]
    monkeypatch.setattr(metering.time, "monotonic", lambda: clock[0])
    wired.script("openai.chat", Reply.error(400, "no"))
    with pytest.raises(llm.LLMError):
        llm.complete(HI, context=llm.CallContext(user=member))
    db.session.expire_all()
    assert db.session.get(Credential, key.id).last_used_at is None  # a failed call is no use

    llm.complete(HI, context=llm.CallContext(user=member))
    db.session.expire_all()
    first = db.session.get(Credential, key.id).last_used_at
    assert first is not None

    clock[0] += 30
    llm.complete(HI, context=llm.CallContext(user=member))
    db.session.expire_all()
    assert db.session.get(Credential, key.id).last_used_at == first  # not again within a minute

    clock[0] += 31
    llm.complete(HI, context=llm.CallContext(user=member))
    db.session.expire_all()
    assert db.session.get(Credential, key.id).last_used_at >= first
    assert _records() == 4
