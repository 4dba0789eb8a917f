"""Bounds on what an upstream can make us wait for or hold in memory.

- A deadline per attempt covers the whole exchange — connect, send, headers and body — not
  only each read: every socket operation gets at most the time left (``clamp``), so an
  upstream dripping one byte at a time cannot hold a call past it.
- A streamed reply instead gets an idle timeout per read (the SDK's read timeout) and a
  maximum duration from its first byte.
- Bodies are counted as they arrive: 10 MB for a reply, 64 MB for a stream. Compressed
  bodies are decompressed here, under the same count, so a small gzip bomb stays small.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx2

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_STREAM_BYTES = 64 * 1024 * 1024
MAX_MODELS = 5_000  # a live model list keeps at most this many ids …
MAX_MODEL_ID = 256  # … and drops ids longer than this
DECODED = ("gzip", "x-gzip", "deflate")
DROPPED_WHEN_DECODED = (b"content-encoding", b"content-length")

_deadline: ContextVar[float | None] = ContextVar("switchboard_io_deadline", default=None)


class UpstreamFault(Exception):
    """The upstream's reply is unusable (too large, wrong framing, unknown encoding)."""


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Bound every socket operation in the body by ``at`` (and any deadline already set)."""
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else outer if at is None else min(at, outer))
    try:
        yield
    finally:
        _deadline.reset(token)


def clamp(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the deadline; ``error`` if none is."""
    at = _deadline.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the deadline for this call passed")
    return left if timeout is None else min(timeout, left)


class BoundedBody(httpx2.SyncByteStream):
    """A reply body read under a deadline and a size limit (decompressed if need be)."""

    def __init__(self, inner: Iterable[bytes], at: float | None, limit: int, decode: bool) -> None:
        self._inner, self._at, self._limit = inner, at, limit
        self._decoder = zlib.decompressobj(32 + zlib.MAX_WBITS) if decode else None
        self._total = 0

    def _decode(self, chunk: bytes) -> bytes:
        if self._decoder is None:
            return chunk
        try:
            decoded = self._decoder.decompress(chunk, self._limit - self._total + 1)
        except zlib.error:
            raise UpstreamFault("a compressed reply that does not decompress") from None
        if self._decoder.unconsumed_tail:
            decoded += b"-"  # more output is waiting: the limit is exceeded either way
        return decoded

    def _count(self, chunk: bytes) -> bytes:
        self._total += len(chunk)
        if self._total > self._limit:
            raise UpstreamFault(f"a reply larger than {self._limit // (1024 * 1024)} MB")
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            with deadline(self._at):
                chunk = next(chunks, None)
            if chunk is None:
                break
            yield self._count(self._decode(chunk))
        if self._decoder is not None:
            yield self._count(self._decoder.flush())

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def body_bounds(
    status: int,
    header: Callable[[str], str],
    *,
    stream: bool,
    scope_deadline: float | None,
    stream_max_s: float | None,
) -> tuple[int, float | None, bool]:
    """How a reply's body is read: (size limit, deadline, decompress?). UpstreamFault when it
    must not be read at all. ``header(name)`` gives a header's value ("" when absent)."""
    streaming = stream and status < 300
    content_type = header("content-type")
    if streaming and "text/event-stream" not in content_type:
        raise UpstreamFault(f"a {content_type or 'untyped'} reply to a streamed request")
    limit = MAX_STREAM_BYTES if streaming else MAX_RESPONSE_BYTES
    if streaming:
        at = time.monotonic() + stream_max_s if stream_max_s else None
    else:
        at = scope_deadline
    length = header("content-length")
    if length.isdigit() and int(length) > limit:
        raise UpstreamFault(f"a reply larger than {limit // (1024 * 1024)} MB")
    encoding = (header("content-encoding") or "identity").strip().lower()
    decode = encoding not in ("", "identity")
    if decode and encoding not in DECODED:
        raise UpstreamFault(f"a reply in an unsupported encoding ({encoding[:30]})")
    return limit, at, decode


def bounded(
    response: httpx2.Response,
    *,
    stream: bool,
    scope_deadline: float | None,
    stream_max_s: float | None,
) -> httpx2.Response:
    """The same response, its body bounded. An error reply to a stream is read whole, under
    the attempt's deadline; a successful stream must be server-sent events."""
    try:
        limit, at, decode = body_bounds(
            response.status_code,
            lambda name: response.headers.get(name, ""),
            stream=stream,
            scope_deadline=scope_deadline,
            stream_max_s=stream_max_s,
        )
    except UpstreamFault:
        response.close()
        raise
    headers = response.headers.raw
    if decode:
        headers = [(k, v) for k, v in headers if k.lower() not in DROPPED_WHEN_DECODED]
    body = response.stream
    assert isinstance(body, httpx2.SyncByteStream)
    return httpx2.Response(
        status_code=response.status_code,
        headers=headers,
        stream=BoundedBody(body, at, limit, decode),
        extensions=response.extensions,
    )
