"""A lean HTTP/1.1 exchange for the call path's pass-through posts (``PinnedTransport.post``).

httpcore's connection pool and h11's state machine cost about 200 µs of CPU a call (event
objects, header validation, state transitions, trace hooks), several times the socket work
itself. A chat call needs less: one POST on a kept-alive connection and a reply read as it
arrives. This pool does that on the same ``PinnedBackend`` (checked addresses only, TLS to
the original host name) under the same deadlines (``PinnedStream`` clamps every socket
operation); replies are parsed by llhttp, Node.js's HTTP parser (``httptools``).

A connection goes back to the pool only when its reply was read to the end, with
keep-alive and nothing after it; before reuse it is checked as httpcore checks its own
(idle expiry; readable, i.e. closed by the server, or its allowance withdrawn). A request
is never sent twice: a reused connection that fails is an error like any other.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator

import httpcore2
import httptools
from httpcore2._backends.base import NetworkBackend, NetworkStream

READ_SIZE = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024  # a reply's status line and headers

Origin = tuple[bytes, bytes, int]  # scheme, host, port


class _Reply:
    """llhttp's callbacks for one reply: headers, body pieces, completion."""

    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = self.complete = self.skipping = self.trailing = False
        self.keep_alive = False
        self.body_bytes = 0  # of the body, to tell it from framing (chunk sizes, trailers)

    def on_message_begin(self) -> None:
        if self.complete:
            self.trailing = True  # bytes after the reply: the connection is not reused

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:  # trailers of a chunked body are dropped, as h11 does
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        if self.complete:
            return
        if 100 <= self.parser.get_status_code() < 200:
            self.skipping = True  # an informational reply; the real one follows
            self.headers.clear()
            return
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)
            self.body_bytes += len(body)

    def on_message_complete(self) -> None:
        assert self.parser is not None
        if self.skipping:
            self.skipping = False
        elif not self.complete:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()  # read before llhttp resets


class Exchange:
    """A reply being read: ``status`` and raw ``headers``, then its body by iterating;
    ``close()`` gives the connection back to the pool or closes it."""

    def __init__(self, pool: Http1Pool, origin: Origin, stream: NetworkStream) -> None:
        self._pool, self._origin, self._stream = pool, origin, stream
        self._reply = _Reply()
        self._parser = httptools.HttpResponseParser(self._reply)
        self._reply.parser = self._parser
        self._read_timeout: float | None = None
        self._after_head = 0  # bytes received since the headers ended, framing included
        self._closed = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []

    def _feed(self) -> int:
        data = self._stream.read(READ_SIZE, self._read_timeout)
        reply = self._reply
        if not data:
            if reply.headers_done and not self._framed():
                reply.complete = True  # a body that ends with the connection …
                reply.keep_alive = False  # … which cannot be reused
                return 0
            raise httpcore2.RemoteProtocolError("the server closed the connection mid-reply")
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:  # a 101 too
            if not reply.complete:
                raise httpcore2.RemoteProtocolError(f"a malformed reply: {exc}") from None
            reply.trailing = True  # junk after a complete reply: it stands, the connection goes
        if reply.headers_done and not reply.complete:
            # Framing around the body (chunk sizes, trailers) is bounded like the headers:
            # a stream of endless trailers would otherwise grow without any body to count.
            self._after_head += len(data)
            if self._after_head - reply.body_bytes > MAX_HEAD_BYTES:
                raise httpcore2.RemoteProtocolError("a reply whose framing never ends")
        return len(data)

    def _framed(self) -> bool:
        names = {name.lower() for name, _ in self._reply.headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def read_head(self, read_timeout: float | None) -> None:
        """Read until the status and headers are in (the body may follow in part)."""
        self._read_timeout = read_timeout
        received = 0
        while not self._reply.headers_done:
            received += self._feed()
            if received > MAX_HEAD_BYTES and not self._reply.headers_done:
                raise httpcore2.RemoteProtocolError("a reply whose headers never end")
        self.status = self._parser.get_status_code()
        self.headers = self._reply.headers

    def __iter__(self) -> Iterator[bytes]:
        reply = self._reply
        try:
            while True:
                if reply.body:
                    pieces, reply.body = reply.body, []
                    yield b"".join(pieces)
                if reply.complete:
                    return
                self._feed()
        finally:
            self.close()

    def _keep_never(self) -> None:
        self._reply.trailing = True  # the request was not all sent: never reuse

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reply = self._reply
        if reply.complete and reply.keep_alive and not reply.trailing:
            self._pool.release(self._origin, self._stream)
        else:
            self._stream.close()


class Http1Pool:
    """Kept-alive connections per origin, opened through ``backend``: at most ``max_idle``
    idle ones in all, each kept ``keepalive_expiry`` seconds. Connections in use are not
    capped here: a worker's concurrent calls are (``SWITCHBOARD_WORKER_CONNECTIONS``)."""

    def __init__(
        self,
        backend: NetworkBackend,
        ssl_context: ssl.SSLContext,
        *,
        max_idle: int,
        keepalive_expiry: float | None,
    ) -> None:
        self._backend, self._ssl_context = backend, ssl_context
        self._max_idle = max_idle
        self._expiry = keepalive_expiry if keepalive_expiry is not None else float("inf")
        self._idle: dict[Origin, list[tuple[float, NetworkStream]]] = {}
        self._idle_count = 0
        self._closed = False
        self._lock = threading.Lock()

    def _expired(self, idle: list[tuple[float, NetworkStream]], now: float) -> list[NetworkStream]:
        """Take the expired connections off the front of ``idle`` (oldest first); under the
        lock. They are closed by the caller, outside it."""
        count = 0
        while count < len(idle) and idle[count][0] <= now:
            count += 1
        if not count:
            return []
        gone, idle[:count] = [stream for _, stream in idle[:count]], []
        self._idle_count -= count
        return gone

    def _reused(self, origin: Origin) -> NetworkStream | None:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                expired = self._expired(idle, now) if idle else []
                stream = idle.pop()[1] if idle else None
                if stream is not None:
                    self._idle_count -= 1
            for old in expired:
                old.close()
            if stream is None:
                return None
            if not stream.get_extra_info("is_readable"):
                return stream
            stream.close()  # closed by the server, or its allowance withdrawn

    def _connect(self, origin: Origin, timeout: float | None) -> NetworkStream:
        scheme, host, port = origin
        stream = self._backend.connect_tcp(host.decode("ascii"), port, timeout)
        if scheme == b"https":
            try:
                stream = stream.start_tls(self._ssl_context, host.decode("ascii"), timeout)
            except BaseException:
                stream.close()
                raise
        return stream

    def release(self, origin: Origin, stream: NetworkStream) -> None:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            expired = self._expired(idle, now)
            kept = not self._closed and self._idle_count < self._max_idle
            if kept:
                idle.append((now + self._expiry, stream))
                self._idle_count += 1
        for old in expired if kept else [*expired, stream]:
            old.close()

    def post(
        self,
        url: httpcore2.URL,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        timeouts: dict[str, float | None],
    ) -> Exchange:
        """Send the POST and read the reply's status and headers (httpcore2's exceptions for
        network faults and malformed replies). ``headers`` must name the Host and the
        Content-Length; they are sent as they are, so whoever builds them checks them."""
        port = url.port or (443 if url.scheme == b"https" else 80)
        origin = (url.scheme, url.host, port)
        request = b"".join(
            [b"POST ", url.target, b" HTTP/1.1\r\n"]
            + [b"%s: %s\r\n" % (name, value) for name, value in headers]
            + [b"\r\n", content]
        )
        stream = self._reused(origin) or self._connect(origin, timeouts.get("connect"))
        exchange = Exchange(self, origin, stream)
        try:
            try:
                stream.write(request, timeouts.get("write"))
            except httpcore2.WriteError as failed:
                # A server may answer before it read everything (a 413) and close: its
                # reply says more than the broken pipe, as httpcore has it.
                try:
                    exchange.read_head(timeouts.get("read"))
                except Exception:
                    raise failed from None
                exchange._keep_never()
                return exchange
            exchange.read_head(timeouts.get("read"))
        except BaseException:
            stream.close()
            raise
        return exchange

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle, self._idle_count = self._idle, {}, 0
        for streams in idle.values():
            for _, stream in streams:
                stream.close()
