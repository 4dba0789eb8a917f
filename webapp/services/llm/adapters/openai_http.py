"""OpenAI chat completions as plain JSON over the SDK client's own HTTP connection.

The SDK's object model costs more CPU than the rest of a gateway call (typed request
transformation, then a pydantic object per reply and per stream chunk). A chat call only
needs the JSON: this module sends it and reads it as dicts, through the SDK client's
``httpx2`` client — so the pinned transport, the deadlines, the body limits and the pooled
connections are the same — and raises the SDK's own exceptions for HTTP errors, so error
classification does not change. Embeddings and model lists still go through the SDK.
"""

from __future__ import annotations

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
    http: httpx2.Client
    chat_url: str
    headers: dict[str, str]


_routes: weakref.WeakKeyDictionary[openai.OpenAI, Route] = weakref.WeakKeyDictionary()


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
        found = Route(client._client, f"{base}/chat/completions", headers)
        _routes[client] = found
    return found


def _send(client: openai.OpenAI, body: dict[str, Any], timeout_s: float, stream: bool) -> Any:
    target = route(client)
    request = target.http.build_request(
        "POST",
        target.chat_url,
        content=json.dumps(body, separators=(",", ":")).encode(),
        headers=target.headers,
        timeout=timeout_s,
    )
    try:
        response = target.http.send(request, stream=stream)
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
) -> Iterator[dict[str, Any]]:
    """Send a streamed chat completion (raising on an HTTP error status before returning);
    iterate for its chunks as dicts, up to ``[DONE]``. Closing the iterator closes the
    response."""
    response = _send(client, body, timeout_s, stream=True)
    return _chunks(response)


def _chunks(response: httpx2.Response) -> Iterator[dict[str, Any]]:
    try:
        event = None
        for line in response.iter_lines():
            if not line:
                event = None
                continue
            if line.startswith("event:"):
                event = line[6:].strip()
                continue
            if not line.startswith("data:"):
                continue  # comments (": keep-alive"), ids, retries
            data = line[5:].strip()
            if data.startswith("[DONE]"):
                break
            chunk = json.loads(data)
            if not isinstance(chunk, dict):
                raise UpstreamFault("a stream event that is not a JSON object")
            if chunk.get("error") and (event == "error" or event is None):
                raise _stream_error(chunk, response.request)
            yield chunk
    finally:
        response.close()
