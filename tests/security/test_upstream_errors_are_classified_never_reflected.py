"""Issue 8 item 11, second half: an upstream's words never reach members verbatim. Members see
the classified error and the HTTP status; admin pages and the usage record get a redacted,
one-line, length-capped excerpt. Replies that are not what the protocol promises (HTML, text,
empty choices, JSON nested past the recursion limit) are upstream faults: classified,
retried and failed over like a 502, and never logged as crashes."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import GLOBAL_OPENAI_KEY
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.llm import errors
from webapp.services.llm.errors import DETAIL_CHARS
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]
HX = {"HX-Request": "true"}
NASTY = "db-7.corp:5432 said <script>alert(1)</script>\x1b[31m\r\nSet-Cookie: x=1 " + "y" * 2000


def set_global(**values):  # type: ignore[no-untyped-def]
    settings_service.update_settings(None, settings_service.parameter_set_for("global"), values)


def record() -> UsageRecord:
    db.session.expire_all()
    return db.session.scalars(sa.select(UsageRecord).order_by(UsageRecord.id.desc())).first()


def crashes(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(("status", "error"), [(400, errors.BadRequest), (503, errors.Unavailable)])
def test_members_get_the_classified_error_and_admins_a_sanitized_excerpt(
    wired, member, status, error
):
    set_global(max_retries=0)
    wired.script("openai.chat", Reply.error(status, f"{NASTY} key {GLOBAL_OPENAI_KEY}"))
    with pytest.raises(error) as excinfo:
        llm.complete(HI, context=llm.CallContext(user=member))
    failure = excinfo.value
    assert f"({status})" in failure.message
    for word in ("db-7", "script", "Set-Cookie", "yyyy"):
        assert word not in failure.message
    detail = failure.detail
    assert detail.startswith("db-7.corp:5432 said <script>") and len(detail) <= DETAIL_CHARS
    assert detail.isprintable() and "\n" not in detail and GLOBAL_OPENAI_KEY not in detail
    stored = record().error_message
    assert "Upstream said" in stored and stored.isprintable() and GLOBAL_OPENAI_KEY not in stored


def test_key_tests_quote_the_upstream_on_admin_pages_only(
    wired, member, member_client, admin_client
):
    mine = factories.user_key(member, "openai", "sk-member-quoted-0123456789")
    wired.script("openai.models", Reply.error(401, NASTY, echo_auth=True))
    notice = member_client.post(f"/account/keys/{mine.id}/test", headers=HX).headers["HX-Trigger"]
    assert "rejected the key (401)" in notice and "db-7" not in notice
    page = member_client.get("/account").get_data(as_text=True)
    assert "db-7" not in page  # nor in the stored test message shown on the panel
    site = factories.global_key("openai")
    wired.script("openai.models", Reply.error(401, NASTY, echo_auth=True))
    notice = admin_client.post(f"/admin/keys/{site.id}/test", headers=HX).headers["HX-Trigger"]
    assert "Upstream said" in notice and "db-7.corp" in notice
    assert "sk-wired" not in notice and "\\u001b" not in notice
    # The 401 marked the key invalid: calls skip it until a test passes again.
    admin_client.post(f"/admin/keys/{site.id}/test", headers=HX)
    wired.script("openai.models", Reply.error(401, NASTY, echo_auth=True))
    provider = factories.provider("openai")
    response = admin_client.post(f"/admin/providers/{provider.id}/test", headers=HX)
    assert "Upstream said" in response.get_data(as_text=True)


def test_the_playground_shows_admins_the_excerpt(wired, admin, admin_client):
    set_global(max_retries=0)
    wired.script("openai.chat", Reply.error(400, NASTY))
    data = {"user_id": admin.id, "prompt": "hi", "model": "openai/gpt-5.4-mini"}
    body = admin_client.post("/admin/playground", data=data).get_data(as_text=True)
    assert "refused the request (400)" in body and "Upstream said" in body
    assert "<script>alert" not in body  # escaped like any other text


ODD_REPLIES = {
    "html page": Reply.html(200),
    "html error": Reply.html(502),
    "plain text": Reply.raw("upstream says hello", content_type="text/plain"),
    "json text": Reply.raw("<html>not json</html>"),
    "empty choices": Reply.empty_choices(),
    "deeply nested": Reply.deeply_nested(),
    "json array": Reply.raw("[1, 2, 3]"),
}


@pytest.mark.parametrize("reply", ODD_REPLIES.values(), ids=ODD_REPLIES.keys())
def test_odd_replies_are_retried_then_failed_over_and_never_logged_as_crashes(
    wired, member, caplog, reply
):
    set_global(max_retries=1, fallback_models=["anthropic/claude-haiku-4-5"])
    wired.script("openai.chat", reply, reply)
    answer = llm.complete(HI, context=llm.CallContext(user=member))
    assert answer.model == "anthropic/claude-haiku-4-5"
    assert [(a["model"], a["status"], a.get("error_type")) for a in answer.attempts] == [
        ("openai/gpt-5.4-mini", "error", "unavailable"),
        ("openai/gpt-5.4-mini", "error", "unavailable"),
        ("anthropic/claude-haiku-4-5", "ok", None),
    ]
    assert crashes(caplog) == []


@pytest.mark.parametrize("reply", ODD_REPLIES.values(), ids=ODD_REPLIES.keys())
def test_odd_anthropic_replies_are_unavailable_too(wired, member, caplog, reply):
    set_global(max_retries=0)
    wired.script("anthropic.messages", reply)
    with pytest.raises(errors.Unavailable):
        llm.complete(HI, context=llm.CallContext(user=member), model="anthropic/claude-haiku-4-5")
    assert crashes(caplog) == []


@pytest.mark.parametrize(
    "reply", [Reply.html(200), Reply.raw('{"ok": true}')], ids=["html", "json"]
)
def test_a_stream_answered_without_events_fails_over_before_the_first_byte(
    wired, member, caplog, reply
):
    set_global(max_retries=0, fallback_models=["anthropic/claude-haiku-4-5"])
    wired.script("openai.chat", reply)
    stream = llm.stream(HI, context=llm.CallContext(user=member))
    text = "".join(event.text or "" for event in stream if event.type == "text")
    assert text == wired.default_text and stream.completion.model == "anthropic/claude-haiku-4-5"
    assert crashes(caplog) == []
