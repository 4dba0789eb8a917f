"""The lean HTTP/1.1 exchange of the call path (``http1``) reads every framing a server may
use, and reuses a connection only when its reply ended cleanly with keep-alive: a reply
that is cut, malformed, followed by junk or closed by the server never lends its
connection to the next call."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore2
import httpx2
import pytest

from webapp.services.llm import transport
from webapp.services.llm.http1 import Http1Pool

OK_JSON = b'{"ok":true}'


def _json(body: bytes = OK_JSON, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n" % len(body)
        + extra
        + b"\r\n"
        + body
    )


class Scripted:
    """A loopback server answering each request with the next scripted reply: a list of
    byte pieces sent one by one (a float in the list is a pause), then ``close`` or not."""

    def __init__(self) -> None:
        self.replies: list[tuple[list[Any], bool]] = []
        self.early = False  # reply after the headers, without reading the body
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client hung up (a test cut a reply short)
            self._exchange(conn)

    def _exchange(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(buffer) < length and not self.early:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                pieces, close = self.replies.pop(0)
                for piece in pieces:
                    if isinstance(piece, float):
                        time.sleep(piece)
                    else:
                        conn.sendall(piece)
                if close:
                    return


@contextmanager
def _server() -> Iterator[tuple[Scripted, Http1Pool, Any]]:
    server = Scripted()
    pool = Http1Pool(
        transport.PinnedBackend(),
        httpx2.create_ssl_context(),
        max_idle=10,
        keepalive_expiry=5.0,
    )
    scope = transport.Scope(allowed=frozenset({f"127.0.0.1:{server.port}"}))

    def post(content: bytes = b"{}", with_headers: bool = False) -> Any:
        url = httpcore2.URL(scheme=b"http", host=b"127.0.0.1", port=server.port, target=b"/v1/x")
        headers = [
            (b"Host", b"127.0.0.1:%d" % server.port),
            (b"Content-Length", str(len(content)).encode()),
        ]
        with transport.scoped(scope):
            exchange = pool.post(url, headers, content, {"connect": 2, "read": 2, "write": 2})
            body = b"".join(exchange)
        return (
            (exchange.status, body, exchange.headers) if with_headers else (exchange.status, body)
        )

    try:
        yield server, pool, post
    finally:
        pool.close()
        server.listener.close()


def test_kept_alive_replies_share_one_connection_in_any_framing():
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
    )
    with _server() as (server, _, post):
        server.replies = [
            ([_json()], False),
            ([chunked], False),
            ([chunked[:7], 0.02, chunked[7:40], 0.02, chunked[40:]], False),  # dribbled
            ([b"HTTP/1.1 100 Continue\r\n\r\n", _json()], False),  # informational first
        ]
        assert post() == (200, OK_JSON)
        assert post() == (200, b"hello world")
        assert post() == (200, b"hello world")
        assert post() == (200, OK_JSON)
        assert server.connections == 1


@pytest.mark.parametrize(
    "reply",
    [
        [_json(extra=b"Connection: close\r\n")],
        [b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n" + OK_JSON],
        [_json() + b"HTTP/1.1 200 OK\r\n"],  # more than the reply: junk or a smuggled one
    ],
    ids=["connection-close", "http-1.0", "bytes-after-the-reply"],
)
def test_a_reply_that_does_not_end_cleanly_is_not_reused_but_stands(reply):
    with _server() as (server, _, post):
        server.replies = [(reply, False), ([_json()], False)]
        assert post() == (200, OK_JSON)
        assert post() == (200, OK_JSON)
        assert server.connections == 2


def test_a_body_that_ends_with_the_connection_is_read_to_the_end():
    with _server() as (server, _, post):
        server.replies = [([b"HTTP/1.1 200 OK\r\n\r\n", b"all ", 0.02, b"of it"], True)]
        assert post() == (200, b"all of it")


@pytest.mark.parametrize(
    "reply,message",
    [
        ([_json(body=b"x" * 100)[:-50]], "closed the connection mid-reply"),  # cut short
        ([b"HTTP/1.1 2OO OK\r\n\r\n"], "malformed"),
        ([b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000], "headers never end"),
        ([b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"], "Upgrade"),
    ],
    ids=["truncated", "bad-status", "endless-headers", "upgrade"],
)
def test_a_broken_reply_is_a_protocol_error_and_its_connection_is_dropped(reply, message):
    with _server() as (server, _, post):
        server.replies = [(reply, True), ([_json()], False)]
        with pytest.raises(httpcore2.RemoteProtocolError, match=message):
            post()
        assert post() == (200, OK_JSON)
        assert server.connections == 2


def test_an_idle_connection_the_server_closed_is_not_reused():
    with _server() as (server, _, post):
        server.replies = [([_json()], True), ([_json()], False)]  # closes after replying …
        assert post() == (200, OK_JSON)
        time.sleep(0.05)  # … so the idle connection is readable (EOF) before the next call
        assert post() == (200, OK_JSON)
        assert server.connections == 2


def test_a_stalled_reply_times_out_at_the_read_timeout():
    with _server() as (server, _, post):
        server.replies = [([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 5.0], True)]
        started = time.monotonic()
        with pytest.raises(httpcore2.ReadTimeout):
            post()
        assert time.monotonic() - started < 4


def test_trailers_are_dropped_and_endless_ones_cut_off():
    trailer = b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n"
    with _server() as (server, _, post):
        server.replies = [
            ([trailer + b"Retry-After: 3600\r\n\r\n"], False),
            ([trailer] + [b"X-T: " + b"a" * 100 + b"\r\n"] * 1000, True),
        ]
        status, body, headers = post(with_headers=True)
        assert (status, body) == (429, b"no") and b"Retry-After" not in dict(headers)
        with pytest.raises(httpcore2.RemoteProtocolError, match="framing never ends"):
            post()


def test_an_answer_before_the_body_was_sent_is_read_not_lost():
    """A server refusing a large body answers at once and closes (nginx's 413): the reply is
    what the caller sees, not the broken pipe of the rest of the upload."""
    with _server() as (server, _, post):
        server.early = True
        server.replies = [([b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n\r\nbig"], True)]
        assert post(b"x" * 20_000_000) == (413, b"big")


def test_idle_connections_past_their_expiry_are_closed_under_steady_traffic():
    with _server() as (server, pool, post):
        pool._expiry = 0.2
        url = httpcore2.URL(scheme=b"http", host=b"127.0.0.1", port=server.port, target=b"/v1/x")
        headers = [(b"Host", b"127.0.0.1:%d" % server.port), (b"Content-Length", b"2")]
        server.replies = [([_json()], False) for _ in range(8)]
        scope = transport.Scope(allowed=frozenset({f"127.0.0.1:{server.port}"}))
        with transport.scoped(scope):
            held = [pool.post(url, headers, b"{}", {"read": 2}) for _ in range(3)]  # a burst
            for exchange in held:
                b"".join(exchange)
        assert pool._idle_count == 3
        time.sleep(0.3)
        for _ in range(3):
            assert post() == (200, OK_JSON)  # steady traffic on one connection …
        assert pool._idle_count == 1  # … and the expired ones were closed, not kept


def test_a_connection_finishing_after_the_pool_closed_is_closed_too():
    with _server() as (server, pool, _):
        url = httpcore2.URL(scheme=b"http", host=b"127.0.0.1", port=server.port, target=b"/v1/x")
        headers = [(b"Host", b"127.0.0.1:%d" % server.port), (b"Content-Length", b"2")]
        server.replies = [([_json()], False)]
        with transport.scoped(transport.Scope(allowed=frozenset({f"127.0.0.1:{server.port}"}))):
            exchange = pool.post(url, headers, b"{}", {"read": 2})
        pool.close()
        assert b"".join(exchange) == OK_JSON
        assert pool._idle_count == 0


def test_tls_is_sent_to_and_verified_against_the_original_host_name(tmp_path):
    import ssl

    from tests.security.outbound import StubDNS, https_server

    dns = StubDNS()
    with https_server(tmp_path, "llm.tls.test") as server:
        dns.set("llm.tls.test", ["127.0.0.1"]).set("other.tls.test", ["127.0.0.1"])
        trusted = ssl.create_default_context(cadata=server.ca.decode())
        pool = Http1Pool(transport.PinnedBackend(), trusted, max_idle=10, keepalive_expiry=5.0)
        allowed = frozenset({f"llm.tls.test:{server.port}", f"other.tls.test:{server.port}"})

        def post(host: bytes) -> bytes:
            url = httpcore2.URL(scheme=b"https", host=host, port=server.port, target=b"/v1/c")
            headers = [(b"Host", b"%s:%d" % (host, server.port)), (b"Content-Length", b"2")]
            with transport.scoped(transport.Scope(allowed=allowed, resolver=dns)):
                return b"".join(pool.post(url, headers, b"{}", {"connect": 5, "read": 5}))

        try:
            assert b"data: [DONE]" in post(b"llm.tls.test")
            assert b"data: [DONE]" in post(b"llm.tls.test")  # on the same TLS connection
            assert len(set(server.peers)) == 1 and server.sni == ["llm.tls.test"]
            # Same address, but the certificate does not name this host: refused.
            with pytest.raises(httpcore2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                post(b"other.tls.test")
        finally:
            pool.close()
