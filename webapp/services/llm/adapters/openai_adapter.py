"""OpenAI chat completions through the official ``openai`` SDK (also OpenAI-compatible servers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
from openai.types import CreateEmbeddingResponse

from webapp.services.llm.adapters import openai_http
from webapp.services.llm.limits import UpstreamFault
from webapp.services.llm.transport import PinnedTransport, http_client
from webapp.services.llm.types import (
    ChatRequest,
    ChatResult,
    Delta,
    LiveModel,
    Message,
    ToolCall,
    Usage,
    live_models,
)
from webapp.services.llm.usage import reported

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SAMPLING = ("temperature", "top_p", "frequency_penalty", "presence_penalty", "seed")


def _message(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in message.tool_calls
        ]
    if message.role == "tool":
        data["tool_call_id"] = message.tool_call_id
    return data


def _usage(raw: Any) -> Usage:
    """Token counts from a usage object (SDK) or dict (JSON), read by the one reader every
    protocol shares (``usage.reported``: odd values are repaired and flagged there)."""
    if raw is None:
        return Usage()
    if isinstance(raw, dict):
        details = raw.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return reported(raw.get("prompt_tokens"), raw.get("completion_tokens"), cached)
    details = getattr(raw, "prompt_tokens_details", None)
    return reported(
        getattr(raw, "prompt_tokens", None),
        getattr(raw, "completion_tokens", None),
        getattr(details, "cached_tokens", None) if details else None,
    )


def _list(value: Any) -> list[dict[str, Any]]:
    """The dict entries of a JSON list (an absent or null list is empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UpstreamFault("a list in the reply is not a list")
    return [item for item in value if isinstance(item, dict)]


def _function(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    if not isinstance(function, dict):
        raise UpstreamFault("a tool call without a function")
    return {"name": str(function.get("name") or ""), "arguments": function.get("arguments")}


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}") if isinstance(raw, str) else {}
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_value": value}


class OpenAIAdapter:
    def __init__(self, max_tokens_param: str) -> None:
        # api.openai.com wants max_completion_tokens; most compatible servers only max_tokens.
        self.max_tokens_param = max_tokens_param

    def make_client(
        self, base_url: str | None, api_key: str, headers: dict[str, str] | None
    ) -> openai.OpenAI:
        transport = PinnedTransport()
        client = openai.OpenAI(
            http_client=http_client(transport=transport),
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            max_retries=0,
            timeout=60.0,
            default_headers=headers or None,
        )
        # The SDK fills these from OPENAI_ORG_ID / OPENAI_PROJECT_ID; never send ours elsewhere.
        client.organization = None
        client.project = None
        openai_http.register(client, transport)
        return client

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON of a chat completion request, as it goes on the wire."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m) for m in request.messages],
        }
        params = request.params
        for name in SAMPLING:
            if params.get(name) is not None:
                body[name] = params[name]
        if params.get("max_tokens") is not None:
            body[self.max_tokens_param] = params["max_tokens"]
        if params.get("stop"):
            body["stop"] = params["stop"]
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        if request.extra_body:
            body.update(request.extra_body)
        return body

    def chat(self, client: openai.OpenAI, request: ChatRequest) -> ChatResult:
        reply = openai_http.post_chat(client, self.body(request), request.timeout_s)
        choices = reply.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise UpstreamFault("the reply has no choices")
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            raise UpstreamFault("the reply's choice has no message")
        calls = [
            ToolCall(c.get("id") or "", _function(c)["name"], _arguments(_function(c)["arguments"]))
            for c in _list(message.get("tool_calls"))
            if c.get("type", "function") == "function"  # custom (free-text) tools are never offered
        ]
        content = message.get("content")
        return ChatResult(
            content if isinstance(content, str) else "",
            calls,
            _text_or_none(choice.get("finish_reason")),
            _usage(reply.get("usage")),
        )

    def open_stream(self, client: openai.OpenAI, request: ChatRequest) -> Iterator[Delta]:
        body = {**self.body(request), "stream": True, "stream_options": {"include_usage": True}}
        return self._deltas(openai_http.open_chat_stream(client, body, request.timeout_s))

    def _deltas(self, batches: Iterator[list[dict[str, Any]]]) -> Iterator[Delta]:
        """Deltas of the stream; those of one batch but the last are marked ``more``."""
        partial: dict[int, dict[str, Any]] = {}
        try:
            for batch in batches:
                found: list[Delta] = []
                for chunk in batch:
                    self._chunk_deltas(chunk, partial, found)
                for delta in found[:-1]:
                    delta.more = True
                yield from found
        except (AttributeError, TypeError, KeyError) as exc:  # an event of another shape
            raise UpstreamFault("a stream event of an unexpected shape") from exc
        finally:
            closer = getattr(batches, "close", None)
            if closer is not None:
                closer()

    @staticmethod
    def _chunk_deltas(
        chunk: dict[str, Any], partial: dict[int, dict[str, Any]], found: list[Delta]
    ) -> None:
        if chunk.get("usage") is not None:
            found.append(Delta(usage=_usage(chunk["usage"])))
        for choice in _list(chunk.get("choices")):
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise UpstreamFault("a stream event of an unexpected shape")
            content = delta.get("content")
            if content and isinstance(content, str):
                found.append(Delta(text=content))
            for call in _list(delta.get("tool_calls")):
                slot = partial.setdefault(call.get("index", 0), {"id": "", "name": "", "args": ""})
                slot["id"] = call.get("id") or slot["id"]
                function = call.get("function")
                if isinstance(function, dict):
                    slot["name"] = function.get("name") or slot["name"]
                    slot["args"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                for slot in partial.values():
                    found.append(
                        Delta(
                            tool_call=ToolCall(slot["id"], slot["name"], _arguments(slot["args"]))
                        )
                    )
                partial.clear()
                found.append(Delta(stop_reason=_text_or_none(choice["finish_reason"])))

    def embed(
        self, client: openai.OpenAI, model: str, inputs: list[str], timeout_s: float
    ) -> tuple[list[list[float]], Usage]:
        response = client.embeddings.create(
            model=model, input=inputs, encoding_format="float", timeout=timeout_s
        )
        if not isinstance(response, CreateEmbeddingResponse) or len(response.data) != len(inputs):
            raise UpstreamFault("the reply does not carry one embedding per input")
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        usage = response.usage
        return vectors, reported(getattr(usage, "prompt_tokens", None), 0)

    def list_models(self, client: openai.OpenAI, timeout_s: float) -> list[LiveModel]:
        return live_models(LiveModel(m.id) for m in client.models.list(timeout=timeout_s))
