"""The HTTP transport under every SDK client: it connects only to addresses it checked.

The SDKs would resolve a host themselves after our guard resolved it, so a DNS answer that
changes in between (DNS rebinding) could send a key to loopback. Instead, httpcore2's
network backend — the one place every connection is opened — resolves the host once,
checks every address with the guard's rule (``credentials.addresses.refusal``: public, or
private for an allowed ``host:port``, never metadata or link-local), and connects to the
checked address. The URL is untouched, so the Host header stays the original host, and TLS
still sends and verifies the original host name (httpcore passes it to ``start_tls``).

The transport never queries the database (streams are read outside any app context): the
call service passes what it needs — the allowed hosts, a resolver, the deadlines — in a
``Scope`` set around each attempt (``scoped``). A connection opened thanks to an allowed
entry is dropped before reuse once the entry is gone. Reply bodies are bounded by
``webapp.services.llm.limits``.
"""

from __future__ import annotations

import functools
import ipaddress
import select
import ssl
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore2
import httpx2
from httpcore2._backends.base import NetworkBackend, NetworkStream
from httpcore2._backends.sync import SyncBackend
from httpx2._transports.default import ResponseStream, map_httpcore_exceptions

from webapp.services.credentials import addresses, url_guard
from webapp.services.credentials.addresses import IPAddress, host_key
from webapp.services.llm import limits
from webapp.services.llm.http1 import Http1Pool


@dataclass(frozen=True)
class Scope:
    """What the transport may do for the current attempt. The default allows only public
    addresses and sets no deadline (a client used outside the call service)."""

    allowed: frozenset[str] = frozenset()
    resolver: url_guard.Resolver | None = None
    deadline: float | None = None  # time.monotonic() by which the attempt must be over
    stream: bool = False
    stream_max_s: float | None = None


_scope: ContextVar[Scope] = ContextVar("switchboard_outbound_scope", default=Scope())  # noqa: B039


@contextmanager
def scoped(scope: Scope) -> Iterator[Scope]:
    """Run the body (one attempt) under ``scope``."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


class OutboundRefused(Exception):
    """The host resolves to an address Switchboard may not call."""

    def __init__(self, host: str, address: IPAddress | None, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        self.allowable = address is not None and addresses.why_never(address) is None
        where = f"resolves to {address}, " if address is not None else "is "
        super().__init__(f"{host} {where}{reason}")


def _unique(found: Iterable[str]) -> list[IPAddress]:
    seen: dict[IPAddress, None] = {}
    for value in found:
        seen.setdefault(ipaddress.ip_address(value), None)
    return list(seen)


def admit(host: str, port: int, scope: Scope) -> tuple[list[IPAddress], str | None]:
    """Resolve once and check every address; return them with the allowed entry relied on."""
    host = host.rstrip(".").lower()
    never = addresses.why_never_host(host)
    if never:
        raise OutboundRefused(host, None, never)
    resolver = scope.resolver or url_guard.system_resolver  # looked up now: tests swap it
    try:
        found = _unique(resolver(host, port))
    except (OSError, UnicodeError, ValueError):
        raise httpcore2.ConnectError(f"{host} could not be resolved") from None
    if not found:
        raise httpcore2.ConnectError(f"{host} has no addresses")
    key = host_key(host, port)
    allowed = key in scope.allowed
    for address in found:
        reason = addresses.refusal(address, allowed=allowed)
        if reason:
            raise OutboundRefused(host, address, reason)
    return found, key if allowed else None


class PinnedStream(NetworkStream):
    """A connection to a checked address; I/O bounded by the current deadline."""

    def __init__(self, inner: NetworkStream, allowed_by: str | None) -> None:
        self._inner, self._allowed_by = inner, allowed_by

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, limits.clamp(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, limits.clamp(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        timeout = limits.clamp(timeout, httpcore2.ConnectTimeout)
        return PinnedStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._allowed_by
        )

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # The entry was removed: the pool expires this idle connection. Outside any call
            # that counts as removed, so a client used without a scope never reuses a
            # connection a call's allowance opened (``http1`` asks only before reuse).
            withdrawn = (
                self._allowed_by is not None and self._allowed_by not in _scope.get().allowed
            )
            return withdrawn or _readable_now(self._inner.get_extra_info("socket"))
        return self._inner.get_extra_info(info)


def _readable_now(sock: Any) -> bool:
    """Whether an idle pooled connection has something to read (the server closed it or
    sent junk), asked before each reuse. A zero-timeout poll never blocks, so it is made
    with the original ``select.poll`` even where gevent patched it: gevent's version sets up
    a watcher and a hub switch each time, a noticeable cost on every upstream request."""
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return True
    poller = _original_poll()()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


@functools.cache
def _original_poll() -> Any:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("select"):
        return monkey.get_original("select", "poll")
    return select.poll


class PinnedBackend(NetworkBackend):
    """Opens TCP connections only to addresses ``admit`` checked, never by name."""

    def __init__(self) -> None:
        self._backend = SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> NetworkStream:
        found, allowed_by = admit(host, port, _scope.get())
        error: Exception | None = None
        for address in found:
            wait = limits.clamp(timeout, httpcore2.ConnectTimeout)
            try:
                stream = self._backend.connect_tcp(
                    str(address), port, wait, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                error = exc
                continue
            return PinnedStream(stream, allowed_by)
        assert error is not None
        raise error

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# Connections per client (one client per provider URL and key, per process). A gevent
# worker serves hundreds of streams at once, often on one key: httpx's default of 100
# would queue the rest behind them.
POOL_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


class PinnedTransport(httpx2.HTTPTransport):
    """``httpx2.HTTPTransport`` over a pool whose network backend is ``PinnedBackend``."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, pool: httpx2.Limits | None = None
    ) -> None:
        context = ssl_context or httpx2.create_ssl_context()
        pool = pool or POOL_LIMITS
        super().__init__(verify=context, trust_env=False, limits=pool)
        backend = PinnedBackend()
        self._pool = httpcore2.ConnectionPool(
            ssl_context=context,
            max_connections=pool.max_connections,
            max_keepalive_connections=pool.max_keepalive_connections,
            keepalive_expiry=pool.keepalive_expiry,
            network_backend=backend,
        )
        self._posts = Http1Pool(
            backend,
            context,
            max_idle=pool.max_keepalive_connections or 0,
            keepalive_expiry=pool.keepalive_expiry,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        scope = _scope.get()
        request.headers["Accept-Encoding"] = "identity"  # bodies are counted as they arrive
        with limits.deadline(scope.deadline):
            response = super().handle_request(request)
        return limits.bounded(
            response,
            stream=scope.stream,
            scope_deadline=scope.deadline,
            stream_max_s=scope.stream_max_s,
        )

    def post(
        self,
        url: httpcore2.URL,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        timeouts: dict[str, float | None],
    ) -> RawResponse:
        """POST ``content`` over the lean HTTP/1.1 pool (``http1``): the same pinned
        connections, deadlines and body bounds as ``handle_request``, without httpcore's
        and httpx's request and response machinery (a pass-through needs the bytes only).
        ``headers`` are sent as they are: they must name the Host and the Content-Length,
        and be checked by whoever built them (``openai_http.route``)."""
        scope = _scope.get()
        with limits.deadline(scope.deadline), map_httpcore_exceptions():
            response = self._posts.post(url, [*headers, _IDENTITY], content, timeouts)
        found = {name.lower(): value for name, value in response.headers}
        try:
            limit, at, decode = limits.body_bounds(
                response.status,
                lambda name: found.get(name.encode(), b"").decode("latin-1"),
                stream=scope.stream,
                scope_deadline=scope.deadline,
                stream_max_s=scope.stream_max_s,
            )
        except limits.UpstreamFault:
            response.close()
            raise
        body = limits.BoundedBody(ResponseStream(response), at, limit, decode)
        raw = response.headers
        if decode:
            raw = [(k, v) for k, v in raw if k.lower() not in limits.DROPPED_WHEN_DECODED]
        return RawResponse(response.status, raw, body)

    def close(self) -> None:
        self._posts.close()
        super().close()


_IDENTITY = (b"Accept-Encoding", b"identity")  # bodies are counted as they arrive


class RawResponse:
    """A reply read off the pool: status, raw headers and its bounded body."""

    __slots__ = ("_body", "_content", "headers", "status_code")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: limits.BoundedBody
    ) -> None:
        self.status_code, self.headers, self._body = status, headers, body
        self._content: bytes | None = None

    def iter_bytes(self) -> Iterator[bytes]:
        """The body as it arrives (httpx2's exceptions for network faults)."""
        yield from self._body

    def read(self) -> bytes:
        """The whole body (read once, then kept); the connection goes back to the pool."""
        if self._content is None:
            try:
                self._content = b"".join(self._body)
            finally:
                self._body.close()
        return self._content

    def close(self) -> None:
        self._body.close()


def http_client(
    *, ssl_context: ssl.SSLContext | None = None, transport: PinnedTransport | None = None
) -> httpx2.Client:
    """The ``httpx2.Client`` every SDK client gets: pinned connections, no redirects (the
    guard checked this URL, not where it points), no proxies or .netrc from the
    environment."""
    return httpx2.Client(
        transport=transport or PinnedTransport(ssl_context=ssl_context),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx2.Timeout(60.0, connect=5.0),
    )
