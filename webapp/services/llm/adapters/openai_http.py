"""OpenAI chat completions as plain JSON over the SDK client's own HTTP connection.

The SDK's object model costs more CPU than the rest of a gateway call (typed request
transformation, then a pydantic object per reply and per stream chunk). A chat call only
needs the JSON: this module sends it and reads it as dicts, straight through the SDK
client's pinned transport (``PinnedTransport.post``) — so the pinned connections, the
deadlines, the body limits and the pool are the same — and raises the SDK's own exceptions
for HTTP errors and network faults, so error classification does not change. Embeddings
and model lists still go through the SDK.
"""

from __future__ import annotations

import functools
import json
import re
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore2
import httpx2
import openai

from webapp.services.catalog.provider_rules import RESERVED_HEADERS
from webapp.services.llm import limits
from webapp.services.llm.limits import UpstreamFault
from webapp.services.llm.transport import PinnedTransport, RawResponse

_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an HTTP token
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # a value may hold tabs, not line breaks

# After a stream's [DONE]: how long and how much of the rest is read to keep its connection.
DRAIN_S = 0.05
DRAIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class Route:
    transport: PinnedTransport
    chat_url: httpx2.URL  # parsed once
    target: httpcore2.URL
    headers: list[tuple[bytes, bytes]]  # Host first, then the client's own

    def request(self, content: bytes = b"") -> httpx2.Request:
        """The request as httpx models it: only for the SDK's exceptions (an error path)."""
        return httpx2.Request("POST", self.chat_url, headers=self.headers, content=content)


_transports: weakref.WeakKeyDictionary[openai.OpenAI, PinnedTransport] = weakref.WeakKeyDictionary()
_routes: weakref.WeakKeyDictionary[openai.OpenAI, Route] = weakref.WeakKeyDictionary()


def register(client: openai.OpenAI, transport: PinnedTransport) -> None:
    """``client`` was built on ``transport``: chat calls go straight to its connection pool
    (the SDK client's own httpx client adds cookie, auth and redirect handling, and httpx's
    request and response models, that these calls never use)."""
    _transports[client] = transport


def route(client: openai.OpenAI) -> Route:
    """Where and how ``client`` sends a chat completion (computed once per client)."""
    found = _routes.get(client)
    if found is None:
        # The SDK's telemetry headers (X-Stainless-*) describe a request the SDK built; these
        # are not, and each header costs validation on both ends of every call.
        headers = {
            name: value
            for name, value in {**client.default_headers, **client.auth_headers}.items()
            if isinstance(value, str) and not name.lower().startswith("x-stainless-")
        }
        if reserved := RESERVED_HEADERS.intersection(name.lower() for name in headers):
            raise UpstreamFault(f"the provider's extra headers may not set {sorted(reserved)}")
        base = str(client.base_url).rstrip("/")
        url = httpx2.URL(f"{base}/chat/completions")
        target = httpcore2.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        )
        raw = [(b"Host", url.netloc), *httpx2.Headers(headers).raw]
        for name, value in raw:  # sent as they are (``http1``): no line may be smuggled in
            if not _HEADER_NAME.fullmatch(name) or _CONTROL.search(value):
                raise UpstreamFault(f"the request header {name!r} is malformed")
        found = Route(_transports[client], url, target, raw)
        _routes[client] = found
    return found


@functools.lru_cache(maxsize=64)
def _timeouts(seconds: float) -> dict[str, float | None]:
    return httpx2.Timeout(seconds).as_dict()


def _send(client: openai.OpenAI, body: dict[str, Any], timeout_s: float, stream: bool) -> Any:
    target = route(client)
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = [*target.headers, (b"Content-Length", str(len(content)).encode())]
    try:
        response = target.transport.post(target.target, headers, content, _timeouts(timeout_s))
        if not stream:
            response.read()
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=target.request(content)) from exc
    except httpx2.TransportError as exc:
        raise openai.APIConnectionError(request=target.request(content)) from exc
    if response.status_code >= 400:
        error = httpx2.Response(
            response.status_code,
            headers=response.headers,
            content=response.read(),
            request=target.request(content),
        )
        raise client._make_status_error_from_response(error)
    return response


def post_chat(client: openai.OpenAI, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """The reply of a non-streamed chat completion, as JSON."""
    response = _send(client, body, timeout_s, stream=False)
    reply = json.loads(response.read())
    if not isinstance(reply, dict):
        raise UpstreamFault("the reply is not a JSON object")
    return reply


def _stream_error(data: dict[str, Any], request: httpx2.Request) -> openai.APIError:
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return openai.APIError(
        message=str(message or "An error occurred during streaming"), request=request, body=error
    )


def open_chat_stream(
    client: openai.OpenAI, body: dict[str, Any], timeout_s: float
) -> Iterator[list[dict[str, Any]]]:
    """Send a streamed chat completion (raising on an HTTP error status before returning);
    iterate for its chunks as dicts, up to ``[DONE]``, in batches: the chunks that arrived
    together in one read (a fast upstream sends many at once, and the gateway then writes
    them to its client at once). Closing the iterator closes the response."""
    response = _send(client, body, timeout_s, stream=True)
    return _batches(response, lambda: route(client).request())


def _drain(blocks: Iterator[bytes]) -> None:
    """Read what follows ``[DONE]`` — normally only the end of the chunked body, received
    with it — so the connection goes back to the pool for the next call instead of being
    closed (a new one costs a DNS lookup, address checks and a TCP handshake). An upstream
    that sends more, or not at once, is cut off: its connection is closed as before."""
    try:
        with limits.deadline(time.monotonic() + DRAIN_S):
            left = DRAIN_BYTES
            for block in blocks:
                left -= len(block)
                if left < 0:
                    return
    except Exception:  # a reply already complete is never failed for this
        return


def _batches(
    response: RawResponse | httpx2.Response, request: Callable[[], httpx2.Request]
) -> Iterator[list[dict[str, Any]]]:
    try:
        rest, event = b"", None
        blocks = response.iter_bytes()
        for block in blocks:
            *lines, rest = (rest + block).split(b"\n")
            batch: list[dict[str, Any]] = []
            for raw in lines:
                line = raw.rstrip(b"\r")
                if not line:
                    event = None
                elif line.startswith(b"event:"):
                    event = line[6:].strip()
                elif line.startswith(b"data:"):
                    data = line[5:].strip()
                    if data.startswith(b"[DONE]"):
                        _drain(blocks)
                        if batch:
                            yield batch
                        return
                    chunk = json.loads(data)
                    if not isinstance(chunk, dict):
                        raise UpstreamFault("a stream event that is not a JSON object")
                    if chunk.get("error") and event in (None, b"error"):
                        raise _stream_error(chunk, request())
                    batch.append(chunk)
                # anything else: comments (": keep-alive"), ids, retries
            if batch:
                yield batch
    finally:
        response.close()
