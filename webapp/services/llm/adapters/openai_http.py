"""OpenAI chat completions as plain JSON over the SDK client's own HTTP connection.

The SDK's object model costs more CPU than the rest of a gateway call (typed request
transformation, then a pydantic object per reply and per stream chunk). A chat call only
needs the JSON: this module sends it and reads it as dicts, through the SDK client's
``httpx2`` client — so the pinned transport, the deadlines, the body limits and the pooled
connections are the same — and raises the SDK's own exceptions for HTTP errors, so error
classification does not change. Embeddings and model lists still go through the SDK.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from webapp.services.llm.limits import UpstreamFault


@dataclass(frozen=True)
class Route:
    transport: httpx2.BaseTransport
    chat_url: httpx2.URL  # parsed once
    headers: httpx2.Headers  # normalized once; each request copies them


_transports: weakref.WeakKeyDictionary[openai.OpenAI, httpx2.BaseTransport] = (
    weakref.WeakKeyDictionary()
)
_routes: weakref.WeakKeyDictionary[openai.OpenAI, Route] = weakref.WeakKeyDictionary()


def register(client: openai.OpenAI, transport: httpx2.BaseTransport) -> None:
    """``client`` was built on ``transport``: chat calls go straight to it (the SDK client's
    own httpx client adds cookie, auth and redirect handling that these calls never use)."""
    _transports[client] = transport


def route(client: openai.OpenAI) -> Route:
    """Where and how ``client`` sends a chat completion (computed once per client)."""
    found = _routes.get(client)
    if found is None:
        headers = {
            name: value
            for name, value in {**client.default_headers, **client.auth_headers}.items()
            if isinstance(value, str)
        }
        base = str(client.base_url).rstrip("/")
        transport = _transports.get(client) or client._client._transport
        found = Route(transport, httpx2.URL(f"{base}/chat/completions"), httpx2.Headers(headers))
        _routes[client] = found
    return found


@functools.lru_cache(maxsize=64)
def _timeouts(seconds: float) -> dict[str, float | None]:
    return httpx2.Timeout(seconds).as_dict()


def _send(client: openai.OpenAI, body: dict[str, Any], timeout_s: float, stream: bool) -> Any:
    target = route(client)
    request = httpx2.Request(
        "POST",
        target.chat_url,
        content=json.dumps(body, separators=(",", ":")).encode(),
        headers=target.headers,
        extensions={"timeout": _timeouts(timeout_s)},
    )
    try:
        response = target.transport.handle_request(request)
        response.request = request
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=request) from exc
    except httpx2.TransportError as exc:
        raise openai.APIConnectionError(request=request) from exc
    if response.status_code >= 400:
        try:
            response.read()
        finally:
            response.close()
        raise client._make_status_error_from_response(response)
    return response


def post_chat(client: openai.OpenAI, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """The reply of a non-streamed chat completion, as JSON."""
    response = _send(client, body, timeout_s, stream=False)
    reply = json.loads(response.content)
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
    return _batches(response)


def _batches(response: httpx2.Response) -> Iterator[list[dict[str, Any]]]:
    try:
        rest, event = b"", None
        for block in response.iter_bytes():
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
                        if batch:
                            yield batch
                        return
                    chunk = json.loads(data)
                    if not isinstance(chunk, dict):
                        raise UpstreamFault("a stream event that is not a JSON object")
                    if chunk.get("error") and event in (None, b"error"):
                        raise _stream_error(chunk, response.request)
                    batch.append(chunk)
                # anything else: comments (": keep-alive"), ids, retries
            if batch:
                yield batch
    finally:
        response.close()
