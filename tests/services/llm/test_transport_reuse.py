"""Pooled upstream connections: the readiness check before reuse."""

from __future__ import annotations

import socket
import sys
import types

from webapp.services.llm import transport


def test_an_idle_connection_is_readable_once_the_server_sends_or_closes() -> None:
    ours, theirs = socket.socketpair()
    try:
        assert transport._readable_now(ours) is False
        theirs.sendall(b"x")
        assert transport._readable_now(ours) is True
        ours.recv(1)
        theirs.close()
        assert transport._readable_now(ours) is True  # end of file: the pool drops it
    finally:
        ours.close()
    assert transport._readable_now(ours) is True  # closed: fileno() is -1
    assert transport._readable_now(None) is True


def test_the_check_uses_the_original_poll_under_gevent(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import select

    asked: list[tuple[str, str]] = []

    def get_original(module: str, name: str):  # type: ignore[no-untyped-def]
        asked.append((module, name))
        return select.poll

    fake = types.SimpleNamespace(is_module_patched=lambda name: True, get_original=get_original)
    monkeypatch.setitem(sys.modules, "gevent.monkey", fake)
    transport._original_poll.cache_clear()
    try:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            assert transport._readable_now(ours) is False
        assert asked == [("select", "poll")]
    finally:
        transport._original_poll.cache_clear()
