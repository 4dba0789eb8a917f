"""Embeddings, live model lists and connection tests, metered like every call."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.llm import errors


def records() -> list[UsageRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(UsageRecord).order_by(UsageRecord.id)))


def test_embed_with_the_default_embedding_model(wired, member):
    result = llm.embed(["one", "two"], context=llm.CallContext(user=member))
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 8
    assert result.model == "openai/text-embedding-3-small"
    (request,) = wired.requests_to("openai.embeddings")
    assert (
        request.body["input"] == ["one", "two"]
        and request.body["model"] == "text-embedding-3-small"
    )
    (record,) = records()
    assert record.operation == "embed" and record.status == "ok" and record.input_tokens > 0
    assert record.cost_usd == (Decimal(record.input_tokens) * Decimal("0.02") / 10**6).quantize(
        Decimal("0.00000001")
    )


def test_embed_refuses_bad_input_and_anthropic(wired, member):
    with pytest.raises(Exception, match="string"):
        llm.embed([1, 2], context=llm.CallContext(user=member))  # type: ignore[list-item]
    with pytest.raises(errors.BadRequest, match="no embeddings API"):
        llm.embed("x", context=llm.CallContext(user=member), model="anthropic/claude-haiku-4-5")
    assert [r.error_type for r in records()] == ["bad_request", "bad_request"]


@pytest.mark.parametrize("slug", ["openai", "anthropic"])
def test_connection_test_lists_live_models(wired, admin, slug):
    wired.models = ["model-x", "model-y", "model-z"]
    result = llm.test_connection(factories.provider(slug), context=llm.CallContext(user=admin))
    assert result.ok and [m.id for m in result.models] == ["model-x", "model-y", "model-z"]
    assert result.key_source == "global" and result.latency_ms >= 0
    (record,) = records()
    assert record.operation == "models" and record.status == "ok" and record.caller == "api"
    key = factories.global_key(slug)
    db.session.refresh(key)
    assert key.last_test_status == "ok" and key.last_used_at is not None


def test_a_rejected_key_is_marked_invalid(wired, member):
    key = factories.user_key(member, "openai", "sk-member-test-1234")
    wired.script("openai.models", Reply.error(401, "Invalid key", echo_auth=True))
    result = llm.test_connection(
        factories.provider("openai"), context=llm.CallContext(user=member), credential=key
    )
    assert not result.ok and result.error_type == "auth"
    assert "sk-member-test-1234" not in result.message
    assert (
        wired.requests_to("openai.models")[0].headers["authorization"]
        == "Bearer sk-member-test-1234"
    )
    db.session.refresh(key)
    assert key.last_test_status == "invalid" and "sk-member" not in key.last_test_message


def test_a_connection_test_without_any_key_says_what_to_do(app, admin, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = llm.test_connection(factories.provider("openai"), context=llm.CallContext(user=admin))
    assert not result.ok and result.error_type == "not_configured"
    assert "OPENAI_API_KEY" in result.message
    assert records()[0].error_type == "not_configured"


def test_a_typed_base_url_is_checked_again_at_call_time(wired, member):
    host = wired.base_url.removeprefix("http://")
    factories.allowed_host(host)
    key = factories.user_key(member, "gemini", "sk-member-gemini-1", base_url=wired.openai_base_url)
    member.mode = "byok"
    db.session.commit()
    assert (
        llm.complete(
            [{"role": "user", "content": "x"}],
            context=llm.CallContext(user=member),
            model="gemini/gemini-3.8-flash",
        ).key_source
        == "user"
    )
    from webapp.services.credentials.allowed_hosts import remove_allowed_host

    admin = factories.make_user("ops@example.com", role="admin")
    remove_allowed_host(admin, factories.allowed_host(host).id)  # takes effect at once
    with pytest.raises(errors.NotConfigured, match="loopback"):
        llm.complete(
            [{"role": "user", "content": "x"}],
            context=llm.CallContext(user=member),
            model="gemini/gemini-3.8-flash",
        )
    assert key.id


def test_redirects_are_never_followed_past_the_ssrf_guard(wired, member):
    """An allowed host that redirects elsewhere must not lead the SDK to the other host."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    target = wired.openai_base_url  # loopback, not allowed for user base URLs

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(307)
            self.send_header("Location", target + "/models")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        factories.allowed_host(f"127.0.0.1:{server.server_port}")
        key = factories.user_key(
            member,
            "gemini",
            "sk-member-redirect-1",
            base_url=f"http://127.0.0.1:{server.server_port}/v1",
        )
        result = llm.test_connection(
            factories.provider("gemini"), credential=key, context=llm.CallContext(user=member)
        )
    finally:
        server.shutdown()
        server.server_close()
    assert not result.ok and "307" in result.message
    assert wired.requests_to("openai.models") == []


# --- every failed key test is stored with why ------------------------------------------------

UPSTREAM_WORDS = "db-7.internal.example overloaded"


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _member_key(wired, member, case: str, monkeypatch):  # type: ignore[no-untyped-def]
    """A member's gemini key, and the upstream set up to fail the way ``case`` says."""
    from webapp.services.credentials.allowed_hosts import remove_allowed_host
    from webapp.services.llm import operations

    if case == "unreachable":
        port = _closed_port()
        factories.allowed_host(f"127.0.0.1:{port}")
        return factories.user_key(
            member, "gemini", "sk-member-unreach-1", base_url=f"http://127.0.0.1:{port}/v1"
        )
    url = wired.openai_base_url
    key = factories.user_key(member, "gemini", "sk-member-failing-1", base_url=url)
    if case == "blocked":  # allowed when saved, then the admin withdrew the host
        admin = factories.make_user("ops@example.com", role="admin")
        host = wired.base_url.removeprefix("http://")
        remove_allowed_host(admin, factories.allowed_host(host).id)
    elif case == "timeout":
        monkeypatch.setattr(operations, "LIST_TIMEOUT_S", 0.3)
        wired.script("openai.models", Reply.hang(5), Reply.hang(5))
    else:
        status = {"unavailable": 503, "rate_limited": 429, "refused": 400}[case]
        wired.script("openai.models", *[Reply.error(status, UPSTREAM_WORDS)] * 2)
    return key


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("unreachable", "could not be reached"),
        ("blocked", "on the Keys page"),
        ("timeout", "did not answer"),
        ("unavailable", "unavailable right now (503)"),
        ("rate_limited", "rate limiting"),
        ("refused", "refused the request (400)"),
    ],
)
def test_every_failed_key_test_is_stored_with_its_reason(wired, member, monkeypatch, case, says):
    """Not only a rejected key: an unreachable host, a blocked address, a timeout or a 5xx is
    kept on the key's row with our own short reason (never the upstream's words, never the
    key), and a failed test is not a use of the key."""
    key = _member_key(wired, member, case, monkeypatch)
    try:
        result = llm.test_connection(
            factories.provider("gemini"), context=llm.CallContext(user=member), credential=key
        )
    finally:
        wired.release_hangs()
    assert not result.ok
    db.session.expire_all()
    stored = db.session.get(type(key), key.id)
    assert stored.last_test_status == case and stored.last_test_at is not None
    assert says in stored.last_test_message, stored.last_test_message
    assert UPSTREAM_WORDS not in stored.last_test_message
    assert "sk-member" not in stored.last_test_message
    assert stored.last_used_at is None
    assert stored.version == key.version  # bookkeeping: an open edit form stays valid


def test_an_expired_key_is_not_tested_and_its_row_not_changed(wired, member):
    from datetime import timedelta

    from webapp.models.base import utcnow

    key = factories.user_key(member, "openai", "sk-member-expired-1")
    key.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    result = llm.test_connection(
        factories.provider("openai"), context=llm.CallContext(user=member), credential=key
    )
    assert not result.ok and "expired" in result.message
    db.session.expire_all()
    stored = db.session.get(type(key), key.id)
    assert stored.last_test_status == "unknown" and stored.last_test_at is None
    assert wired.requests_to("openai.models") == []


def test_the_retry_loop_is_entered_only_through_the_call():
    """Issue 9 item 2: the retry call (log, outbound scope and deadline of the call) is
    spelled once, in ``Call.retried``; every other path goes through it."""
    import pathlib

    import webapp.services.llm as package

    callers = [
        path.name
        for path in pathlib.Path(package.__file__).parent.rglob("*.py")
        if "with_retries(" in path.read_text() and path.name != "retry.py"
    ]
    assert callers == ["calls.py"]
