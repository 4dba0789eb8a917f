"""A fake OpenAI + Anthropic upstream: a real HTTP server on loopback for the official SDKs.

Why a real server rather than mocks: the app talks to providers only through the official SDKs,
so the honest test is to let those SDKs build, send and parse real HTTP (JSON and SSE) and to
script what the "provider" answers: text, tool calls, usage, errors, hangs, cut streams, junk.

Both protocols share one server, split by path prefix: the OpenAI SDK's ``base_url`` is
``openai_base_url`` (``.../openai/v1``), the Anthropic SDK's is ``anthropic_base_url``
(``.../anthropic``; the SDK appends ``/v1/...``). Every response closes its connection, and
streams use chunked framing so that a cut stream is a visible transport error, not a clean EOF.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

ROUTES = {
    ("POST", "/openai/v1/chat/completions"): "openai.chat",
    ("GET", "/openai/v1/models"): "openai.models",
    ("POST", "/openai/v1/embeddings"): "openai.embeddings",
    ("POST", "/anthropic/v1/messages"): "anthropic.messages",
    ("GET", "/anthropic/v1/models"): "anthropic.models",
}
ENDPOINTS = frozenset(ROUTES.values())
DEFAULT_TEXT = "Hello from the fake upstream."
DEFAULT_MODELS = ("fake-model-a", "fake-model-b")
DEFAULT_USAGE = {"input": 12, "output": 7, "cached": 0}
# A ``raw_usage`` value that removes the field from the reply (a usage with a count missing).
OMIT = "\x00omit"
_CREATED = 1_700_000_000
_BROKEN_JSON = '{"id": "broken", "choices": ['
# (OpenAI error type, OpenAI error code, Anthropic error type) by status.
_ERROR_KINDS = {
    400: ("invalid_request_error", None, "invalid_request_error"),
    401: ("invalid_request_error", "invalid_api_key", "authentication_error"),
    403: ("permission_error", None, "permission_error"),
    404: ("invalid_request_error", "not_found", "not_found_error"),
    429: ("requests", "rate_limit_exceeded", "rate_limit_error"),
    500: ("server_error", None, "api_error"),
    503: ("server_error", "overloaded", "overloaded_error"),
    529: ("server_error", "overloaded", "overloaded_error"),
}
# Stop reasons are translated, so one script reads right on both protocols.
_TO_ANTHROPIC = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_TO_OPENAI = {
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "stop_sequence": "stop",
}


@dataclass
class RecordedRequest:
    """One request as the fake received it, for assertions on what the app sent."""

    endpoint: str  # e.g. "openai.chat"; "unknown" for unrouted paths
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, the raw text if it is not JSON, None if empty


@dataclass(frozen=True)
class Reply:
    """What the fake does for one request. Build with the constructors below."""

    kind: str = "ok"  # ok | error | cut | malformed | drip | raw
    text: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_USAGE))
    # Sent as the protocol's usage fields verbatim, over the computed ones (e.g. negative or
    # float counts, to prove the app does not trust them).
    raw_usage: dict[str, Any] | None = None
    delay: float = 0.0
    status: int = 200
    message: str = ""
    retry_after: float | None = None
    echo_auth: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    after_chunks: int = 0
    interval: float = 0.0
    body: bytes = b""

    @classmethod
    def ok(
        cls,
        text: str | None = None,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
        stop_reason: str | None = None,
        usage: dict[str, int] | None = None,
        raw_usage: dict[str, Any] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """A success. ``text`` None means ``default_text``, or no text when ``tool_calls`` are
        given. ``tool_calls``: ``[{"id", "name", "arguments": dict}]``. ``stop_reason`` may be
        either protocol's word; it is translated (``"length"`` <-> ``"max_tokens"``...).
        ``usage``: ``{"input", "output", "cached", "cache_write"}`` (missing keys take the
        defaults 12, 7, 0, 0), where ``input`` excludes the ``cached`` (cache-read) and
        ``cache_write`` tokens: OpenAI's ``prompt_tokens`` is their sum, Anthropic's
        ``input_tokens`` is ``input`` alone, as the real APIs count. ``raw_usage``: fields
        sent verbatim over those (any value, e.g. ``{"prompt_tokens": -1000000}``; ``OMIT``
        leaves the field out); on an Anthropic stream ``output_tokens`` goes in message_delta.
        ``delay``: seconds to wait before sending the headers."""
        return cls(
            text=text,
            tool_calls=tuple(tool_calls or ()),
            stop_reason=stop_reason,
            usage={**DEFAULT_USAGE, **(usage or {})},
            raw_usage=raw_usage,
            delay=delay,
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "upstream error",
        *,
        retry_after: float | None = None,
        echo_auth: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An error body in the protocol's shape. ``echo_auth`` makes the message repeat the
        request's credentials, as some real APIs do, so tests can prove the app redacts them."""
        return cls(
            kind="error",
            status=status,
            message=message,
            retry_after=retry_after,
            echo_auth=echo_auth,
            headers=dict(headers or {}),
        )

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        """Answer ok only after ``seconds``: long enough to trip a client timeout."""
        return cls.ok(delay=seconds)

    @classmethod
    def cut_stream(cls, after_chunks: int = 2) -> Reply:
        """Drop the connection mid-body: in a stream, after the opening events and
        ``after_chunks`` content chunks (no finish, usage, ``[DONE]`` or ``message_stop``); in a
        JSON reply, half way through a body that announced its full Content-Length."""
        return cls(kind="cut", after_chunks=after_chunks)

    @classmethod
    def malformed(cls) -> Reply:
        """A 200 whose JSON body (or one SSE ``data:`` line) is not valid JSON."""
        return cls(kind="malformed")

    @classmethod
    def drip(cls, interval: float = 0.5, text: str | None = None) -> Reply:
        """A normal reply (JSON, or the SSE stream) sent one byte every ``interval`` seconds:
        each read succeeds, so only a deadline on the whole exchange ends it."""
        return cls(kind="drip", text=text, interval=interval)

    @classmethod
    def raw(
        cls,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Exactly these bytes, for streamed requests too (``headers`` may override the
        Content-Type or add a Content-Encoding)."""
        data = body.encode() if isinstance(body, str) else body
        return cls(
            kind="raw",
            status=status,
            body=data,
            headers={"Content-Type": content_type, **(headers or {})},
        )

    @classmethod
    def html(cls, status: int = 200) -> Reply:
        """An HTML page where JSON belongs, as a proxy or captive portal answers."""
        page = "<html><head><title>502 Bad Gateway</title></head><body>\x07nginx</body></html>"
        return cls.raw(page, status=status, content_type="text/html")

    @classmethod
    def empty_choices(cls) -> Reply:
        """A chat completion (or Anthropic message) with nothing in it."""
        body = {"id": "chatcmpl-empty", "object": "chat.completion", "choices": []}
        return cls.raw(json.dumps(body))

    @classmethod
    def deeply_nested(cls, depth: int = 100_000) -> Reply:
        """Valid JSON nested past Python's recursion limit."""
        return cls.raw('{"choices": ' + "[" * depth + "]" * depth + "}")

    @classmethod
    def oversized(cls, size: int) -> Reply:
        """A valid JSON reply padded to ``size`` bytes."""
        pad = max(0, size - 64)
        return cls.raw(json.dumps({"id": "big", "choices": [], "padding": "x" * pad}))


class FakeUpstream:
    """The server. ``start()`` it once, ``script()`` replies per test, inspect ``requests``."""

    def __init__(self) -> None:
        self.default_text = DEFAULT_TEXT
        self.models: list[str] = list(DEFAULT_MODELS)
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._release = threading.Event()  # set: requests waiting out a delay answer now
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeUpstream is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/openai/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"{self.base_url}/anthropic"

    def script(self, endpoint: str, *replies: Reply) -> None:
        """Queue one-shot replies (FIFO) for ``endpoint``; once used up, answers are Reply.ok()."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {sorted(ENDPOINTS)}")
        with self._lock:
            self._scripts.setdefault(endpoint, deque()).extend(replies)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """The requests received for one endpoint, in order."""
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def release_hangs(self) -> None:
        """Requests still waiting out a scripted delay answer now (tests need not wait)."""
        with self._lock:
            released, self._release = self._release, threading.Event()
        released.set()

    def reset(self) -> None:
        """Forget scripts and recorded requests, and restore the default text and models;
        a hang left by an earlier test ends."""
        self.release_hangs()
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.default_text = DEFAULT_TEXT
            self.models = list(DEFAULT_MODELS)

    def start(self) -> FakeUpstream:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-upstream",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: pending delays are cut short and handler threads are not awaited."""
        self._stopping.set()
        self.release_hangs()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _take(self, request: RecordedRequest) -> Reply:
        """Record ``request`` and pop the reply scripted for its endpoint."""
        with self._lock:
            self.requests.append(request)
            queue = self._scripts.get(request.endpoint)
            return queue.popleft() if queue else Reply.ok()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle or sleeping handlers must not delay stop()
    fake: FakeUpstream

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out or hang up are expected here; anything else is a bug."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _over(usage: dict[str, Any], raw: dict[str, Any] | None) -> dict[str, Any]:
    """``usage`` with the scripted raw fields over it (``OMIT`` removes one)."""
    merged = {**usage, **(raw or {})}
    return {k: v for k, v in merged.items() if v != OMIT}


def _usage(reply: Reply) -> tuple[int, int, int]:
    u = reply.usage
    return u["input"], u["output"], u["cached"]


def _pieces(text: str) -> list[str]:
    """Split text into word-sized deltas that join back to exactly ``text``."""
    return re.findall(r"\s*\S+|\s+$", text)


def _halves(text: str) -> tuple[str, str]:
    """Tool arguments arrive in pieces on the wire; two are enough to need reassembly."""
    return text[: len(text) // 2], text[len(text) // 2 :]


def _embedding(text: str) -> list[float]:
    """8 deterministic floats, exact in float32 so both encodings decode to the same values."""
    digest = hashlib.sha256(text.encode()).digest()[:8]
    return [(b - 128) / 128 for b in digest]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for chunked streams
    server: _Server
    fake: FakeUpstream
    req: RecordedRequest
    anthropic: bool
    request_id: str

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    do_PUT = do_PATCH = do_DELETE = do_POST

    # --- request ---

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        self.close_connection = True
        url = urlsplit(self.path)
        raw = self._read_body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.fake = self.server.fake
        self.request_id = f"req_{uuid.uuid4().hex[:20]}"
        self.req = RecordedRequest(
            endpoint=ROUTES.get((self.command, url.path), "unknown"),
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.anthropic = url.path.startswith("/anthropic")
        reply = self.fake._take(self.req)
        if self.req.endpoint == "unknown":
            reply = Reply.error(404, f"Unknown request URL: {self.command} {url.path}")
        if reply.delay:
            self.fake._release.wait(reply.delay)
            if self.fake._stopping.is_set():
                return
        # A client that gave up (e.g. its timeout) has nobody left to answer.
        with contextlib.suppress(ConnectionError):
            self._respond(reply, body if isinstance(body, dict) else {})

    # --- response framing ---

    def _send(
        self, status: int, data: bytes, headers: dict[str, str] | None = None, length: int = -1
    ) -> None:
        """Send a whole body; a ``length`` above ``len(data)`` announces bytes never sent."""
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(max(length, len(data))))
        self._end_headers()
        self.wfile.write(data)

    def _end_headers(self) -> None:
        """Close after every response, so no pooled connection outlives a test or a cut."""
        self.send_header("Connection", "close")
        self.send_header("x-request-id", self.request_id)  # what OpenAI sends
        self.send_header("request-id", self.request_id)  # what Anthropic sends
        self.end_headers()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, payload: Any, name: str | None = None) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        prefix = f"event: {name}\n" if name else ""
        self._chunk(f"{prefix}data: {data}\n\n".encode())

    def _respond(self, reply: Reply, body: dict[str, Any]) -> None:
        if reply.kind == "error":
            return self._send_error(reply)
        if reply.kind == "raw":
            return self._send(reply.status, reply.body, reply.headers)
        endpoint = self.req.endpoint
        streamed = body.get("stream") and endpoint in ("openai.chat", "anthropic.messages")
        if reply.kind == "drip":
            return self._drip(reply, body, bool(streamed))
        if streamed:
            return self._stream(reply, body)
        builders = {
            "openai.chat": self._openai_chat,
            "openai.models": self._openai_models,
            "openai.embeddings": self._openai_embeddings,
            "anthropic.messages": self._anthropic_message,
            "anthropic.models": self._anthropic_models,
        }
        data = json.dumps(builders[endpoint](reply, body)).encode()
        if reply.kind == "cut":
            return self._send(200, data[: len(data) // 2], length=len(data))
        self._send(200, _BROKEN_JSON.encode() if reply.kind == "malformed" else data)

    def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
        self._start_stream()
        events = (
            self._openai_chunks if self.req.endpoint == "openai.chat" else self._anthropic_events
        )
        content_seen = 0
        for kind, payload, name in events(reply, body):
            # Cut before the next content chunk, or before the ending if content ran out.
            spent = content_seen >= reply.after_chunks and (kind == "content" or content_seen > 0)
            if reply.kind == "cut" and spent:
                return  # no terminating chunk: the client sees a broken body
            if kind == "content":
                content_seen += 1
                if reply.kind == "malformed":
                    self._event(_BROKEN_JSON, name)
                    break
            self._event(payload, name)
        if reply.kind != "cut":
            self._chunk(b"")

    def _drip(self, reply: Reply, body: dict[str, Any], streamed: bool) -> None:
        """Send the reply one byte per ``reply.interval`` (chunked for streams)."""
        if streamed:
            events = (
                self._openai_chunks
                if self.req.endpoint == "openai.chat"
                else self._anthropic_events
            )
            data = b""
            for _, payload, name in events(reply, body):
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data += ((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode()
            self._start_stream()
        else:
            builders = {
                "openai.chat": self._openai_chat,
                "openai.models": self._openai_models,
                "openai.embeddings": self._openai_embeddings,
                "anthropic.messages": self._anthropic_message,
                "anthropic.models": self._anthropic_models,
            }
            data = json.dumps(builders[self.req.endpoint](reply, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self._end_headers()
            self.wfile.flush()
        for index in range(len(data)):
            if self.fake._stopping.wait(reply.interval):
                return
            piece = data[index : index + 1]
            if streamed:
                self._chunk(piece)
            else:
                self.wfile.write(piece)
                self.wfile.flush()
        if streamed:
            self._chunk(b"")

    def _send_error(self, reply: Reply) -> None:
        default = ("invalid_request_error", None, "invalid_request_error")
        if reply.status >= 500:
            default = ("server_error", None, "api_error")
        oa_type, oa_code, an_type = _ERROR_KINDS.get(reply.status, default)
        message = reply.message
        if reply.echo_auth:
            creds = " ".join(
                self.req.headers[h] for h in ("authorization", "x-api-key") if h in self.req.headers
            )
            message = f"{message}: Incorrect API key provided: {creds}"
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers["Retry-After"] = f"{reply.retry_after:g}"
        if self.anthropic:
            error = {"type": an_type, "message": message}
            payload: dict[str, Any] = {
                "type": "error",
                "error": error,
                "request_id": self.request_id,
            }
        else:
            error = {"message": message, "type": oa_type, "param": None, "code": oa_code}
            payload = {"error": error}
        self._send(reply.status, json.dumps(payload).encode(), headers)

    # --- OpenAI ---

    def _text(self, reply: Reply) -> str:
        if reply.text is None:
            return "" if reply.tool_calls else self.fake.default_text
        return reply.text

    def _openai_usage(self, reply: Reply) -> dict[str, Any]:
        fresh, output, cached = _usage(reply)
        writes = reply.usage.get("cache_write", 0)
        usage = {
            "prompt_tokens": fresh + cached + writes,
            "completion_tokens": output,
            "total_tokens": fresh + cached + writes + output,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        return _over(usage, reply.raw_usage)

    def _finish(self, reply: Reply) -> str:
        if reply.stop_reason:
            return _TO_OPENAI.get(reply.stop_reason, reply.stop_reason)
        return "tool_calls" if reply.tool_calls else "stop"

    def _openai_chat(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self._text(reply) or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                }
                for call in reply.tool_calls
            ]
        choice = {"index": 0, "message": message, "finish_reason": self._finish(reply)}
        return {
            "id": f"chatcmpl-{self.request_id[4:]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": self._openai_usage(reply),
        }

    def _openai_chunks(self, reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str, Any, None]]:
        """(kind, chunk, None) triples; kind "content" marks chunks that cut_stream counts."""
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {"id": f"chatcmpl-{self.request_id[4:]}", "object": "chat.completion.chunk"}
        base.update(created=int(time.time()), model=body.get("model", ""))
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        yield "meta", chunk({"role": "assistant", "content": ""}), None
        for piece in _pieces(self._text(reply)):
            yield "content", chunk({"content": piece}), None
        for i, call in enumerate(reply.tool_calls):
            head = {"id": call["id"], "type": "function"}
            head["function"] = {"name": call["name"], "arguments": ""}
            yield "content", chunk({"tool_calls": [{"index": i, **head}]}), None
            for part in _halves(json.dumps(call["arguments"])):
                delta = {"tool_calls": [{"index": i, "function": {"arguments": part}}]}
                yield "content", chunk(delta), None
        yield "meta", chunk({}, self._finish(reply)), None
        if include_usage:
            yield "meta", {**base, "choices": [], "usage": self._openai_usage(reply)}, None
        yield "meta", "[DONE]", None

    def _openai_models(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        data = [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "fake-upstream"}
            for m in self.fake.models
        ]
        return {"object": "list", "data": data}

    def _openai_embeddings(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("input", "")
        inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw
        texts = [i if isinstance(i, str) else json.dumps(i) for i in inputs]
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector: Any = _embedding(text)
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(max(1, len(t.split())) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": body.get("model", ""), "usage": usage}

    # --- Anthropic ---

    def _stop(self, reply: Reply) -> str:
        if reply.stop_reason:
            return _TO_ANTHROPIC.get(reply.stop_reason, reply.stop_reason)
        return "tool_use" if reply.tool_calls else "end_turn"

    def _blocks(self, reply: Reply) -> list[dict[str, Any]]:
        text = self._text(reply)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for call in reply.tool_calls:
            tool = {"type": "tool_use", "id": call["id"], "name": call["name"]}
            blocks.append({**tool, "input": call["arguments"]})
        return blocks

    def _message(self, reply: Reply, body: dict[str, Any], output: int) -> dict[str, Any]:
        fresh, _, cached = _usage(reply)
        return {
            "id": f"msg_{self.request_id[4:]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": self._blocks(reply),
            "stop_reason": self._stop(reply),
            "stop_sequence": None,
            "usage": _over(
                {
                    "input_tokens": fresh,
                    "output_tokens": output,
                    "cache_read_input_tokens": cached,
                    "cache_creation_input_tokens": reply.usage.get("cache_write", 0),
                },
                reply.raw_usage,
            ),
        }

    def _anthropic_message(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        return self._message(reply, body, _usage(reply)[1])

    def _anthropic_events(
        self, reply: Reply, body: dict[str, Any]
    ) -> Iterator[tuple[str, Any, str]]:
        """(kind, payload, event name) triples, in the order the Messages API sends them."""
        start = {**self._message(reply, body, 1), "content": [], "stop_reason": None}
        yield "meta", {"type": "message_start", "message": start}, "message_start"
        for index, block in enumerate(self._blocks(reply)):
            if block["type"] == "text":
                head = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
            else:
                head = {**block, "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": part}
                    for part in _halves(json.dumps(block["input"]))
                ]
            event = {"type": "content_block_start", "index": index, "content_block": head}
            yield "meta", event, "content_block_start"
            for delta in deltas:
                event = {"type": "content_block_delta", "index": index, "delta": delta}
                yield "content", event, "content_block_delta"
            yield "meta", {"type": "content_block_stop", "index": index}, "content_block_stop"
        delta = {"stop_reason": self._stop(reply), "stop_sequence": None}
        raw_output = {k: v for k, v in (reply.raw_usage or {}).items() if k == "output_tokens"}
        usage = _over({"output_tokens": _usage(reply)[1]}, raw_output)
        event = {"type": "message_delta", "delta": delta, "usage": usage}
        yield "meta", event, "message_delta"
        yield "meta", {"type": "message_stop"}, "message_stop"

    def _anthropic_models(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        data = [
            {
                "id": m,
                "type": "model",
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-01-01T00:00:00Z",
                "lifecycle": "active",
                "max_input_tokens": 200_000,
                "max_tokens": 64_000,
            }
            for m in self.fake.models
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}


@pytest.fixture(scope="session")
def _fake_upstream_server() -> Iterator[FakeUpstream]:
    """One server for the whole session: starting is cheap, but there is no need to repeat it."""
    server = FakeUpstream().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_upstream(_fake_upstream_server: FakeUpstream) -> FakeUpstream:
    """The session's fake upstream, with no scripts or recorded requests left from earlier."""
    _fake_upstream_server.reset()
    return _fake_upstream_server
