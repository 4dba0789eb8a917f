"""A streamed reply gives its upstream connection back to the pool when it ends, as a JSON
reply does: the next call does not pay for a DNS lookup, address checks and a handshake.
The reply is read to its end after ``[DONE]``; one whose upstream sends more, or stalls
there, is cut off at once (the connection is closed instead) and the call is not failed."""

from __future__ import annotations

import time

import pytest

from tests.security.outbound import StubDNS, http_server
from webapp.services.llm import transport
from webapp.services.llm.adapters import adapter_for, openai_http

BODY = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


@pytest.fixture
def dns() -> StubDNS:
    return StubDNS()


def _stream(client, scope) -> list[dict]:  # type: ignore[no-untyped-def]
    """Opened inside the call's scope, read and closed after it, as the gateway does."""
    with transport.scoped(scope):
        batches = openai_http.open_chat_stream(client, BODY, 30)
    return [chunk for batch in batches for chunk in batch]


def _setup(server, dns):  # type: ignore[no-untyped-def]
    dns.set("llm.lan", ["127.0.0.1"])
    entry = f"llm.lan:{server.port}"
    client = adapter_for("openai").make_client(f"http://{entry}/v1", "sk-test-0000", None)
    return client, transport.Scope(allowed=frozenset({entry}), resolver=dns)


def test_consecutive_streams_share_one_connection(dns):  # type: ignore[no-untyped-def]
    with http_server() as server:
        client, scope = _setup(server, dns)
        for _ in range(3):
            chunks = _stream(client, scope)
            assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 1}
        assert len(server.peers) == 3 and len(set(server.peers)) == 1
        # Removing the allowance still drops the idle connection before its next use.
        with transport.scoped(transport.Scope(resolver=dns)), pytest.raises(Exception) as refused:
            openai_http.open_chat_stream(client, BODY, 30)
        assert "loopback" in repr(refused.value) + repr(refused.value.__cause__)
        assert len(server.peers) == 3


def test_an_upstream_that_stalls_after_done_is_cut_off_not_waited_for(dns):  # type: ignore[no-untyped-def]
    with http_server() as server:
        server.after_done, server.stall_s = b": still here\n\n", 2.0
        client, scope = _setup(server, dns)
        started = time.monotonic()
        chunks = _stream(client, scope)
        assert time.monotonic() - started < 1.0  # not the 2 s stall
        assert chunks[-1]["usage"]["completion_tokens"] == 1
        server.stall_s = 0.0
        _stream(client, scope)
        assert len(set(server.peers)) == 2  # the cut connection was not reused
