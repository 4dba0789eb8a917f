"""Anthropic's Messages API wire format: a message (JSON) and its SSE event stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from webapp.services.llm import Completion
from webapp.services.llm.types import Usage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(stop: str | None, calls: bool) -> str:
    if stop in STOP_REASONS:
        return STOP_REASONS[stop]
    return "tool_use" if calls else "end_turn"


def usage(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    cached = usage.cached_tokens or 0
    written = usage.cache_write_tokens or 0
    return {
        "input_tokens": max(0, (usage.input_tokens or 0) - cached - written),
        "output_tokens": usage.output_tokens or 0,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


def message(result: Completion) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if result.text:
        content.append({"type": "text", "text": result.text})
    for call in result.tool_calls:
        content.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return {
        "id": f"msg_{result.request_id}",
        "type": "message",
        "role": "assistant",
        "model": result.model,
        "content": content,
        "stop_reason": stop_reason(result.stop_reason, bool(result.tool_calls)),
        "stop_sequence": None,
        "usage": usage(result.usage),
    }


def _event(name: str, payload: dict[str, Any]) -> str:
    return (
        f"event: {name}\ndata: {json.dumps({'type': name, **payload}, separators=(',', ':'))}\n\n"
    )


def events(
    stream: Iterator[Any], *, request_id: str, model: str, error_payload: Any, on_end: Any
) -> Iterator[str]:
    """message_start, content blocks (text deltas, tool_use with one input_json_delta),
    message_delta (stop reason, usage), message_stop; an ``error`` event on failure."""
    chars, index, open_block, calls, final_usage = 0, -1, None, 0, None
    out: list[str] = []  # events held while events that arrived together keep coming
    try:
        yield _event(
            "message_start",
            {
                "message": {
                    "id": f"msg_{request_id}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                }
            },
        )
        try:
            for event in stream:
                if event.type == "text":
                    chars += len(event.text)
                    if open_block != "text":
                        if open_block is not None:
                            out.append(_event("content_block_stop", {"index": index}))
                        index, open_block = index + 1, "text"
                        out.append(
                            _event(
                                "content_block_start",
                                {"index": index, "content_block": {"type": "text", "text": ""}},
                            )
                        )
                    out.append(
                        _event(
                            "content_block_delta",
                            {"index": index, "delta": {"type": "text_delta", "text": event.text}},
                        )
                    )
                elif event.type == "tool_call":
                    call = event.tool_call
                    if open_block is not None:
                        out.append(_event("content_block_stop", {"index": index}))
                    index, open_block, calls = index + 1, "tool_use", calls + 1
                    out.append(
                        _event(
                            "content_block_start",
                            {
                                "index": index,
                                "content_block": {
                                    "type": "tool_use",
                                    "id": call.id,
                                    "name": call.name,
                                    "input": {},
                                },
                            },
                        )
                    )
                    out.append(
                        _event(
                            "content_block_delta",
                            {
                                "index": index,
                                "delta": {
                                    "type": "input_json_delta",
                                    "partial_json": json.dumps(call.arguments),
                                },
                            },
                        )
                    )
                elif event.type == "done":
                    done = event.completion
                    final_usage = done.usage
                    if open_block is not None:
                        out.append(_event("content_block_stop", {"index": index}))
                        open_block = None
                    out.append(
                        _event(
                            "message_delta",
                            {
                                "delta": {
                                    "stop_reason": stop_reason(done.stop_reason, bool(calls)),
                                    "stop_sequence": None,
                                },
                                "usage": usage(done.usage),
                            },
                        )
                    )
                    out.append(_event("message_stop", {}))
                if out and not event.more and event.type != "done":  # the stream ends at once
                    yield "".join(out)
                    out.clear()
        except Exception as exc:  # an LLMError after the first byte
            payload = error_payload(exc)
            out.append(f"event: error\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n")
        if out:
            yield "".join(out)
    finally:
        on_end(final_usage, chars)


def model_list(entries: list[tuple[str, str]]) -> dict[str, Any]:
    data = [
        {"type": "model", "id": ident, "display_name": name, "created_at": "1970-01-01T00:00:00Z"}
        for ident, name in entries
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
