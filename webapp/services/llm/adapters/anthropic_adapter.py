"""Anthropic Messages through the official ``anthropic`` SDK.

The SDK is imported on the first Anthropic call, not at start: it is the largest import of
the app (about 40 MB per process), and many installations never call Anthropic.

The system prompt goes in its own parameter, ``max_tokens`` is always sent, and sampling
parameters are only sent (via ``extra_body``) to models the catalog says still accept them:
anthropic 2.x removed them from ``messages.create``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from webapp.services.llm.limits import UpstreamFault
from webapp.services.llm.transport import http_client
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

if TYPE_CHECKING:
    import anthropic

DEFAULT_BASE_URL = "https://api.anthropic.com"
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
DEFAULT_MAX_TOKENS = 4096


def _content(message: Message) -> Any:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content or "",
            }
        ]
    if message.tool_calls:
        blocks: list[dict[str, Any]] = (
            [{"type": "text", "text": message.content}] if message.content else []
        )
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
            for c in message.tool_calls
        ]
        return blocks
    return message.content or ""


def split_system(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Anthropic takes the system prompt apart from the conversation."""
    system = [m.content or "" for m in messages if m.role == "system"]
    turns = [
        {"role": "user" if m.role == "tool" else m.role, "content": _content(m)}
        for m in messages
        if m.role != "system"
    ]
    return ("\n\n".join(system) if system else None), turns


USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _raw_usage(raw: Any) -> dict[str, Any]:
    """The reported fields as they came (an SDK object built without validation, or a dict):
    nothing is added up here."""
    if isinstance(raw, dict):
        return {name: raw.get(name) for name in USAGE_FIELDS}
    return {name: getattr(raw, name, None) for name in USAGE_FIELDS}


def _usage(fields: dict[str, Any]) -> Usage:
    """Anthropic's input_tokens excludes cache reads and writes; ours includes them. The
    shared reader checks each count before adding them up (``usage.reported``)."""
    return reported(
        fields.get("input_tokens"),
        fields.get("output_tokens"),
        fields.get("cache_read_input_tokens"),
        fields.get("cache_creation_input_tokens"),
        input_includes_cache=False,
    )


class AnthropicAdapter:
    def make_client(
        self, base_url: str | None, api_key: str, headers: dict[str, str] | None
    ) -> anthropic.Anthropic:
        import anthropic

        return anthropic.Anthropic(
            http_client=http_client(),
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            max_retries=0,
            timeout=60.0,
            default_headers=headers or None,
            open_telemetry=False,
        )

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        system, turns = split_system(request.messages)
        params = request.params
        args: dict[str, Any] = {
            "model": request.model,
            "messages": turns,
            "max_tokens": params.get("max_tokens") or DEFAULT_MAX_TOKENS,
            "timeout": request.timeout_s,
        }
        if system:
            args["system"] = system
        if params.get("stop"):
            args["stop_sequences"] = params["stop"]
        if request.tools:
            args["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        extra = dict(request.extra_body or {})
        for name in ("temperature", "top_p"):  # only for older models that still accept them
            if params.get(name) is not None:
                extra[name] = params[name]
        if extra:
            args["extra_body"] = extra
        return args

    def chat(self, client: anthropic.Anthropic, request: ChatRequest) -> ChatResult:
        response = client.messages.create(**self._arguments(request))
        from anthropic.types import Message as AnthropicMessage

        if not isinstance(response, AnthropicMessage):
            raise UpstreamFault("the reply is not JSON")
        if not isinstance(response.content, list):
            raise UpstreamFault("the reply has no content")
        text = "".join(b.text for b in response.content if b.type == "text")
        calls = [
            ToolCall(b.id, b.name, dict(b.input)) for b in response.content if b.type == "tool_use"
        ]
        return ChatResult(
            text,
            calls,
            STOP_REASONS.get(response.stop_reason or "", response.stop_reason),
            _usage(_raw_usage(response.usage)),
        )

    def open_stream(self, client: anthropic.Anthropic, request: ChatRequest) -> Iterator[Delta]:
        return self._deltas(client.messages.create(**self._arguments(request), stream=True))

    def _deltas(self, stream: Any) -> Iterator[Delta]:
        usage = Usage()
        fields: dict[str, Any] = {}
        tools: dict[int, dict[str, Any]] = {}
        try:
            for event in stream:
                if event.type == "message_start":
                    # The output count here is a placeholder until message_delta: unknown, so
                    # a stream that breaks before it is estimated from its text.
                    fields = {**_raw_usage(event.message.usage), "output_tokens": None}
                    usage = _usage(fields)
                    yield Delta(usage=usage)  # input tokens are known even if the stream breaks
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    tools[event.index] = {"id": block.id, "name": block.name, "json": ""}
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        yield Delta(text=event.delta.text)
                    elif event.delta.type == "input_json_delta" and event.index in tools:
                        tools[event.index]["json"] += event.delta.partial_json
                elif event.type == "content_block_stop" and event.index in tools:
                    slot = tools.pop(event.index)
                    yield Delta(
                        tool_call=ToolCall(
                            slot["id"], slot["name"], json.loads(slot["json"] or "{}")
                        )
                    )
                elif event.type == "message_delta":
                    # Its counts are cumulative: the output, and any input field it repeats.
                    latest = _raw_usage(event.usage)
                    fields.update({k: v for k, v in latest.items() if v is not None})
                    usage = _usage(fields)
                    reason = event.delta.stop_reason
                    yield Delta(stop_reason=STOP_REASONS.get(reason or "", reason), usage=usage)
                elif event.type == "message_stop":
                    yield Delta(usage=usage)
        except (AttributeError, TypeError, KeyError) as exc:  # an event of another shape
            raise UpstreamFault("a stream event of an unexpected shape") from exc
        finally:
            stream.close()

    def embed(
        self, client: Any, model: str, inputs: list[str], timeout_s: float
    ) -> tuple[list[list[float]], Usage]:
        from webapp.services.llm.errors import BadRequest

        raise BadRequest(
            "Anthropic has no embeddings API; choose an embedding model of another provider."
        )

    def list_models(self, client: anthropic.Anthropic, timeout_s: float) -> list[LiveModel]:
        return live_models(
            LiveModel(m.id, m.display_name, m.max_input_tokens, m.max_tokens)
            for m in client.models.list(timeout=timeout_s)
        )
