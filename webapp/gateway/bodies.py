"""Reading and checking request bodies: size, JSON, and each protocol's fields.

Everything a caller can send wrong is a 400 whose message (and ``param``) names the field.
Sampling parameters become the call's overrides, which the settings resolution clamps to
SPEC's ranges and under the feature's locks, like every call's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request

from webapp.services.llm import Message, Tool, ToolCall

from .errors import GatewayError

OPENAI_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}
MAX_MODEL_CHARS = 300
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json() -> dict[str, Any]:
    limit = current_app.config["GATEWAY_MAX_BODY_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise GatewayError(413, f"The request body is over {limit} bytes.", code="too_large")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise GatewayError(413, f"The request body is over {limit} bytes.", code="too_large")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise GatewayError(
            400, "The request body is not valid JSON.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise GatewayError(400, "The request body must be a JSON object.", code="invalid_json")
    if SURROGATE_ESCAPE.search(raw):  # pairs make characters; a lone half is not text
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise GatewayError(
                400, "The request body has a lone UTF-16 surrogate (\\ud800…).", code="invalid_json"
            ) from None
    return body


def bad(param: str, message: str) -> GatewayError:
    return GatewayError(400, message, code="invalid_value", param=param)


def _number(body: dict[str, Any], name: str, kind: type = float) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(name, f"{name} must be a number.")
    if kind is int and (isinstance(value, float) and not value.is_integer()):
        raise bad(name, f"{name} must be a whole number.")
    return int(value) if kind is int else value


def _stop(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise bad(name, f"{name} must be a string or a list of strings.")
    return items or None


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if model is None or model == "":
        return None
    if not isinstance(model, str) or len(model) > MAX_MODEL_CHARS:
        raise bad("model", "model must be a model name (a string).")
    return model


@dataclass
class ChatBody:
    model: str | None
    messages: list[Message]
    tools: list[Tool]
    overrides: dict[str, Any]
    stream: bool = False
    include_usage: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _text_parts(content: Any, where: str) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad(where, f"{where} must be a string or a list of content parts.")
    texts = []
    for i, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text":
            raise bad(f"{where}[{i}]", f"{where}[{i}]: only text parts are supported.")
        if not isinstance(part.get("text"), str):
            raise bad(f"{where}[{i}].text", f"{where}[{i}].text must be a string.")
        texts.append(part["text"])
    return "".join(texts)


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        raise bad(where, f"{where} must be a JSON string.")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad(where, f"{where} is not valid JSON.") from None
    return value if isinstance(value, dict) else {"_value": value}


def _openai_message(item: Any, i: int) -> Message:
    where = f"messages[{i}]"
    if not isinstance(item, dict):
        raise bad(where, f"{where} must be an object.")
    role = OPENAI_ROLES.get(item.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise bad(f"{where}.role", f"{where}.role must be one of {', '.join(OPENAI_ROLES)}.")
    content = _text_parts(item.get("content"), f"{where}.content")
    calls = []
    raw_calls = item.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise bad(f"{where}.tool_calls", f"{where}.tool_calls must be a list.")
    for j, call in enumerate(raw_calls):
        cw = f"{where}.tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise bad(cw, f"{cw} needs a function with a name.")
        calls.append(
            ToolCall(
                str(call.get("id", "")),
                function["name"],
                _arguments(function.get("arguments"), f"{cw}.function.arguments"),
            )
        )
    tool_call_id = item.get("tool_call_id")
    if role == "tool" and not isinstance(tool_call_id, str):
        raise bad(f"{where}.tool_call_id", f"{where}.tool_call_id is required for a tool message.")
    if content is None and not calls:
        raise bad(f"{where}.content", f"{where}.content is required.")
    return Message(role, content, tuple(calls), tool_call_id if role == "tool" else None)


def _openai_tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("tools", "tools must be a list.")
    tools = []
    for i, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise bad(f"tools[{i}]", f"tools[{i}] must be a function with a name.")
        params = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, dict):
            raise bad(f"tools[{i}].function.parameters", "Tool parameters must be a JSON schema.")
        tools.append(Tool(function["name"], str(function.get("description") or ""), params))
    return tools


def _sampling(
    body: dict[str, Any], max_tokens_names: tuple[str, ...], stop_name: str
) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        value = _number(body, name)
        if value is not None:
            overrides[name] = value
    for name in max_tokens_names:
        value = _number(body, name, int)
        if value is not None:
            overrides["max_tokens"] = value
            break
    seed = _number(body, "seed", int)
    if seed is not None:
        overrides["seed"] = seed
    stop = _stop(body.get(stop_name), stop_name)
    if stop is not None:
        overrides["stop"] = stop
    return overrides


def _unsupported(body: dict[str, Any]) -> None:
    """Refuse what the gateway cannot honour, rather than answer as if it had."""
    if body.get("logprobs"):
        raise bad("logprobs", "logprobs is not supported by the gateway.")
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict) or response_format.get("type") != "text"
    ):
        raise bad("response_format", "response_format other than text is not supported yet.")


def _openai_tool_choice(body: dict[str, Any], tools: list[Tool]) -> list[Tool]:
    choice = body.get("tool_choice")
    if choice in (None, "auto"):
        return tools
    if choice == "none":
        return []
    raise bad("tool_choice", "tool_choice may be auto or none: the model decides which tool.")


def openai_chat(body: dict[str, Any]) -> ChatBody:
    raw = body.get("messages")
    if raw is None:
        raise bad("messages", "messages is required.")
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "messages must be a non-empty list.")
    messages = [_openai_message(item, i) for i, item in enumerate(raw)]
    n = _number(body, "n", int)
    if n is not None and n != 1:
        raise bad("n", "n must be 1: Switchboard returns one choice per call.")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "stream must be true or false.")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad("stream_options", "stream_options must be an object.")
    include_usage = bool((options or {}).get("include_usage", False))
    _unsupported(body)
    return ChatBody(
        _model(body),
        messages,
        _openai_tool_choice(body, _openai_tools(body.get("tools"))),
        _sampling(body, ("max_completion_tokens", "max_tokens"), "stop"),
        bool(stream),
        include_usage,
    )


@dataclass
class EmbedBody:
    model: str | None
    inputs: list[str]
    base64: bool


def openai_embeddings(body: dict[str, Any]) -> EmbedBody:
    raw = body.get("input")
    if raw is None:
        raise bad("input", "input is required.")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise bad("input", "input must be a string or a non-empty list of strings.")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64", None):
        raise bad("encoding_format", "encoding_format must be float or base64.")
    if body.get("dimensions") is not None:
        raise bad("dimensions", "dimensions is not supported: the model's own size is used.")
    return EmbedBody(_model(body), inputs, encoding == "base64")


# Anthropic Messages API


def _anthropic_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    return _text_parts(content, where) or ""


def _anthropic_message(item: Any, i: int) -> list[Message]:
    where = f"messages[{i}]"
    if not isinstance(item, dict):
        raise bad(where, f"{where} must be an object.")
    role = item.get("role")
    if role not in ("user", "assistant"):
        raise bad(f"{where}.role", f"{where}.role must be user or assistant.")
    content = item.get("content")
    if isinstance(content, str):
        return [Message(role, content)]
    if not isinstance(content, list):
        raise bad(f"{where}.content", f"{where}.content must be a string or a list of blocks.")
    texts: list[str] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    for j, block in enumerate(content):
        bw = f"{where}.content[{j}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use" and role == "assistant" and isinstance(block.get("name"), str):
            tool_input = block.get("input") or {}
            if not isinstance(tool_input, dict):
                raise bad(f"{bw}.input", f"{bw}.input must be an object.")
            calls.append(ToolCall(str(block.get("id", "")), block["name"], tool_input))
        elif kind == "tool_result" and role == "user" and isinstance(block.get("tool_use_id"), str):
            text = _anthropic_text(block.get("content") or "", f"{bw}.content")
            results.append(Message("tool", text, (), block["tool_use_id"]))
        else:
            raise bad(bw, f"{bw}: only text, tool_use and tool_result blocks are supported.")
    messages = list(results)
    if texts or calls or not results:
        messages.append(Message(role, "".join(texts) if texts or not calls else None, tuple(calls)))
    return messages


def _anthropic_tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("tools", "tools must be a list.")
    tools = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad(f"tools[{i}]", f"tools[{i}] needs a name.")
        schema = item.get("input_schema") or {"type": "object", "properties": {}}
        if not isinstance(schema, dict):
            raise bad(f"tools[{i}].input_schema", "input_schema must be a JSON schema.")
        tools.append(Tool(item["name"], str(item.get("description") or ""), schema))
    return tools


def anthropic_messages(body: dict[str, Any]) -> ChatBody:
    raw = body.get("messages")
    if raw is None:
        raise bad("messages", "messages is required.")
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "messages must be a non-empty list.")
    messages: list[Message] = []
    system = body.get("system")
    if system is not None:
        text = _anthropic_text(system, "system")
        if text:
            messages.append(Message("system", text))
    for i, item in enumerate(raw):
        messages.extend(_anthropic_message(item, i))
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "stream must be true or false.")
    tools = _anthropic_tools(body.get("tools"))
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else choice
    if kind == "none":
        tools = []
    elif kind not in (None, "auto"):
        raise bad("tool_choice", "tool_choice may be auto or none: the model decides which tool.")
    return ChatBody(
        _model(body),
        messages,
        tools,
        _sampling(body, ("max_tokens",), "stop_sequences"),
        bool(stream),
        True,
    )
