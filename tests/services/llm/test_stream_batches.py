"""Chunks that arrive together go out together: fewer writes for a fast upstream, and never a
chunk held back waiting for the next read."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx2

from webapp.gateway import anthropic_wire, openai_wire
from webapp.services.llm.adapters import openai_http
from webapp.services.llm.adapters.openai_adapter import OpenAIAdapter
from webapp.services.llm.types import Completion, StreamEvent, Usage


def _text(content: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}


STOP = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
USAGE = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}


def _sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


def test_one_read_is_one_batch_and_a_line_split_across_reads_is_joined() -> None:
    whole = _sse(_text("a"), _text("b"))
    reads = [whole, _sse(_text("c"))[:9], _sse(_text("c"))[9:] + b"data: [DONE]\n\n"]
    response = httpx2.Response(200, content=iter(reads), request=httpx2.Request("POST", "http://x"))
    batches = list(openai_http._batches(response, lambda: response.request))
    texts = [[c["choices"][0]["delta"]["content"] for c in batch] for batch in batches]
    assert texts == [["a", "b"], ["c"]]


def test_deltas_of_one_batch_are_marked_more_but_the_last() -> None:
    batches: Iterator[list[dict[str, Any]]] = iter([[_text("a"), _text("b")], [STOP, USAGE]])
    deltas = list(OpenAIAdapter("max_tokens")._deltas(batches))
    assert [(d.text, d.stop_reason, d.usage is not None, d.more) for d in deltas] == [
        ("a", None, False, True),
        ("b", None, False, False),
        ("", "stop", False, True),
        ("", None, True, False),
    ]


def _done() -> StreamEvent:
    completion = Completion(
        text="ab",
        tool_calls=[],
        stop_reason="stop",
        usage=Usage(3, 2, 0),
        model="openai/m",
        request_id="r1",
        key_source="global",
        cost_usd=None,
        credits=None,
        latency_ms=1,
        ttft_ms=1,
        attempts=[],
        dropped_params=[],
    )
    return StreamEvent("done", completion=completion)


EVENTS = [
    StreamEvent("text", text="a", more=True),
    StreamEvent("text", text="b", more=True),
    StreamEvent("flush"),
    StreamEvent("text", text="c"),
    _done(),
]


def test_openai_wire_writes_held_chunks_at_the_end_of_their_run() -> None:
    ended: list[Any] = []
    writes = list(
        openai_wire.chunks(
            iter(EVENTS),
            request_id="r1",
            model="openai/m",
            include_usage=True,
            error_payload=None,
            on_end=lambda usage, chars: ended.append(chars),
        )
    )
    contents = [
        [
            json.loads(line[6:])["choices"][0]["delta"].get("content")
            for line in write.split("\n\n")
            if line.startswith("data: {") and json.loads(line[6:])["choices"]
        ]
        for write in writes
    ]
    assert contents[1:3] == [["a", "b"], ["c"]]  # a and b in one write, c alone
    assert len(writes) == 4  # role, a+b, c, then the finish with usage and [DONE]
    assert writes[-1].endswith("data: [DONE]\n\n") and ended == [3]


def test_anthropic_wire_writes_held_events_at_the_end_of_their_run() -> None:
    writes = list(
        anthropic_wire.events(
            iter(EVENTS),
            request_id="r1",
            model="openai/m",
            error_payload=None,
            on_end=lambda usage, chars: None,
        )
    )
    deltas = [
        [
            json.loads(part.split("data: ", 1)[1])["delta"]["text"]
            for part in write.split("\n\n")
            if part.startswith("event: content_block_delta")
        ]
        for write in writes
    ]
    assert deltas[1:3] == [["a", "b"], ["c"]]
    assert "message_stop" in writes[-1]


def test_a_run_that_ends_without_text_still_ends_with_a_flush(wired, member) -> None:  # type: ignore[no-untyped-def]
    """Whatever the reads: every event marked ``more`` is followed by an unmarked one."""
    from webapp.services import llm

    events = list(
        llm.stream([{"role": "user", "content": "Hi"}], context=llm.CallContext(user=member))
    )
    assert events[-1].type == "done" and not events[-1].more
    for event, following in itertools.pairwise(events):
        if event.more:
            assert following.type in ("text", "tool_call", "flush")
    assert not any(e.type == "flush" and e.more for e in events)


def test_a_burst_from_the_upstream_reaches_the_client_in_one_write(wired, client, member) -> None:  # type: ignore[no-untyped-def]
    """Through the gateway: chunks sent in one write by the upstream go out in one write,
    and the usage chunk that ends the burst (no text of its own) still releases them."""
    from tests.fake_upstream import Reply
    from tests.gateway.support import make_token, records

    burst = _sse(_text("Hel"), _text("lo"), STOP, USAGE) + b"data: [DONE]\n\n"
    wired.script("openai.chat", Reply.raw(burst, content_type="text/event-stream"))
    _, secret = make_token(member)
    body = {
        "model": "openai/gpt-5.4-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )  # the test client keeps the body's parts as the app wrote them
    writes = [part.decode() for part in response.response]
    texts = [
        [
            json.loads(line[6:])["choices"][0]["delta"].get("content")
            for line in write.split("\n\n")
            if line.startswith("data: {") and json.loads(line[6:])["choices"]
        ]
        for write in writes
    ]
    # The role chunk goes out before the upstream answers; then both texts in one write;
    # then the finish and usage chunks with [DONE].
    assert texts == [[""], ["Hel", "lo"], [None]]
    assert writes[-1].endswith("data: [DONE]\n\n") and '"usage"' in writes[-1]
    (record,) = records()
    assert (record.status, record.input_tokens, record.output_tokens) == ("ok", 3, 2)
