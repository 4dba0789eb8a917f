"""OpenAI's wire format: chat completions (JSON and SSE chunks), embeddings, model lists."""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

from webapp.services.llm import Completion, EmbeddingResult, ToolCall
from webapp.services.llm.types import Usage

from .errors import GatewayError


def _tool_call(call: ToolCall, index: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": call.id or f"call_{index or 0}",
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
    }
    if index is not None:
        data["index"] = index
    return data


def usage(usage: Usage) -> dict[str, Any]:
    prompt, output = usage.input_tokens or 0, usage.output_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
    }


def finish_reason(stop: str | None, calls: bool) -> str:
    if stop in ("stop", "length", "tool_calls", "content_filter", "function_call"):
        return stop
    return "tool_calls" if calls else "stop"


def completion(result: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or None}
    if result.tool_calls:
        message["tool_calls"] = [_tool_call(c, None) for c in result.tool_calls]
    elif message["content"] is None:
        message["content"] = ""
    return {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(result.stop_reason, bool(result.tool_calls)),
                "logprobs": None,
            }
        ],
        "usage": usage(result.usage),
        "system_fingerprint": None,
    }


def _sse(payload: Any) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def chunks(
    events: Iterator[Any],
    *,
    request_id: str,
    model: str,
    include_usage: bool,
    error_payload: Any,
    on_end: Any,
) -> Iterator[str]:
    """SSE chunks for a stream of ``StreamEvent``s; a failure mid-stream becomes an error
    event (the status line is long gone). ``on_end(usage, chars)`` runs however it ends."""
    created = int(time.time())
    base = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
    }
    # Every content chunk is the same JSON around its delta: render the frame once.
    frame = _sse(
        {**base, "choices": [{"index": 0, "delta": None, "finish_reason": None, "logprobs": None}]}
    )
    head, _, tail = frame.partition('"delta":null')

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        if finish is None:
            return f'{head}"delta":{json.dumps(delta, separators=(",", ":"))}{tail}'
        return _sse(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
        )

    chars, calls, final_usage = 0, 0, None
    out: list[str] = []  # chunks held while events that arrived together keep coming
    try:
        yield chunk({"role": "assistant", "content": ""})
        try:
            for event in events:
                if event.type == "text":
                    chars += len(event.text)
                    out.append(chunk({"content": event.text}))
                elif event.type == "tool_call":
                    out.append(chunk({"tool_calls": [_tool_call(event.tool_call, calls)]}))
                    calls += 1
                elif event.type == "done":
                    done = event.completion
                    final_usage = done.usage
                    base["model"] = done.model
                    out.append(chunk({}, finish_reason(done.stop_reason, bool(calls))))
                    if include_usage:
                        out.append(_sse({**base, "choices": [], "usage": usage(done.usage)}))
                if out and not event.more and event.type != "done":  # done: [DONE] follows
                    yield "".join(out)
                    out.clear()
        except GatewayError:
            raise
        except Exception as exc:  # an LLMError after the first byte
            out.append(_sse(error_payload(exc)))
            yield "".join(out)
            return
        out.append("data: [DONE]\n\n")
        yield "".join(out)
    finally:
        on_end(final_usage, chars)


def embeddings(result: EmbeddingResult, as_base64: bool) -> dict[str, Any]:
    data = []
    for index, vector in enumerate(result.vectors):
        value: Any = vector
        if as_base64:
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    prompt = result.usage.input_tokens or 0
    return {
        "object": "list",
        "data": data,
        "model": result.model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }


def model_list(entries: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": ident, "object": "model", "created": 0, "owned_by": owner}
            for ident, owner in entries
        ],
    }
