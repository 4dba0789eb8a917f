"""OpenAI chat completions through the official ``openai`` SDK (also OpenAI-compatible servers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion

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
    if raw is None:
        return Usage()
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details else None
    return Usage(raw.prompt_tokens, raw.completion_tokens, cached or 0)


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
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
        client = openai.OpenAI(
            http_client=http_client(),
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            max_retries=0,
            timeout=60.0,
            default_headers=headers or None,
        )
        # The SDK fills these from OPENAI_ORG_ID / OPENAI_PROJECT_ID; never send ours elsewhere.
        client.organization = None
        client.project = None
        return client

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m) for m in request.messages],
            "timeout": request.timeout_s,
        }
        params = request.params
        for name in SAMPLING:
            if params.get(name) is not None:
                args[name] = params[name]
        if params.get("max_tokens") is not None:
            args[self.max_tokens_param] = params["max_tokens"]
        if params.get("stop"):
            args["stop"] = params["stop"]
        if request.tools:
            args["tools"] = [
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
            args["extra_body"] = request.extra_body
        return args

    def chat(self, client: openai.OpenAI, request: ChatRequest) -> ChatResult:
        response = client.chat.completions.create(**self._arguments(request))
        if not isinstance(response, ChatCompletion):
            raise UpstreamFault("the reply is not JSON")
        if not isinstance(response.choices, list) or not response.choices:
            raise UpstreamFault("the reply has no choices")
        choice = response.choices[0]
        if getattr(choice, "message", None) is None:
            raise UpstreamFault("the reply's choice has no message")
        calls = [
            ToolCall(c.id, c.function.name, _arguments(c.function.arguments))
            for c in choice.message.tool_calls or []
            if c.type == "function"  # custom (free-text) tools are never offered
        ]
        return ChatResult(
            choice.message.content or "", calls, choice.finish_reason, _usage(response.usage)
        )

    def open_stream(self, client: openai.OpenAI, request: ChatRequest) -> Iterator[Delta]:
        stream = client.chat.completions.create(
            **self._arguments(request), stream=True, stream_options={"include_usage": True}
        )
        return self._deltas(stream)

    def _deltas(self, stream: Any) -> Iterator[Delta]:
        partial: dict[int, dict[str, Any]] = {}
        try:
            for chunk in stream:
                if chunk.usage is not None:
                    yield Delta(usage=_usage(chunk.usage))
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        yield Delta(text=delta.content)
                    for call in delta.tool_calls or []:
                        slot = partial.setdefault(call.index, {"id": "", "name": "", "args": ""})
                        slot["id"] = call.id or slot["id"]
                        if call.function is not None:
                            slot["name"] = call.function.name or slot["name"]
                            slot["args"] += call.function.arguments or ""
                    if choice.finish_reason:
                        for slot in partial.values():
                            yield Delta(
                                tool_call=ToolCall(
                                    slot["id"], slot["name"], _arguments(slot["args"])
                                )
                            )
                        partial.clear()
                        yield Delta(stop_reason=choice.finish_reason)
        except (AttributeError, TypeError, KeyError) as exc:  # an event of another shape
            raise UpstreamFault("a stream event of an unexpected shape") from exc
        finally:
            stream.close()

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
        return vectors, Usage(usage.prompt_tokens if usage else None, 0, 0)

    def list_models(self, client: openai.OpenAI, timeout_s: float) -> list[LiveModel]:
        return live_models(LiveModel(m.id) for m in client.models.list(timeout=timeout_s))
