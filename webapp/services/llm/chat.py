"""Chat completions, streaming or not: settings → candidates → retries → fallbacks → metering."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from typing import Any

from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.llm import attempts, cooldown, retry
from webapp.services.llm.calls import (
    Call,
    CallContext,
    Target,
    call_params,
    candidates,
    hold_money,
    leaves_caller_pending,
    metered,
    new_call,
    release_connection,
    resolve_settings,
    targets_for,
)
from webapp.services.llm.errors import Cancelled, LLMError, NotConfigured, Unavailable, classify
from webapp.services.llm.types import (
    ChatRequest,
    ChatResult,
    Completion,
    Delta,
    Message,
    StreamEvent,
    Tool,
    ToolCall,
    Usage,
    to_messages,
    to_tools,
)

log = logging.getLogger(__name__)


def _request(call: Call, target: Target, messages: list[Message], tools: list[Tool]) -> ChatRequest:
    settings = call.settings
    assert settings is not None
    params, dropped = call_params(settings, target.model)
    call.record.dropped_params = dropped
    call.record.max_tokens = params.get("max_tokens")
    call.record.request_body = {
        "model": target.model.global_id,
        "messages": [m.to_dict() for m in messages],
        "params": params,
        "tools": [t.name for t in tools] or None,
    }
    return ChatRequest(
        model=target.model.model_id,
        messages=messages,
        params=params,
        tools=tools,
        extra_body=settings.values["extra_options"],
        timeout_s=settings.values["request_timeout_ms"] / 1000,
    )


def _allowed(call: Call, models: list[ModelInfo]) -> list[ModelInfo]:
    """The primary model (the caller checked it) and the fallbacks the caller may use; the
    others are noted as skipped and never held for, tried or served."""
    may_use = call.context.may_use
    if may_use is None:
        return models
    kept = models[:1]
    for model in models[1:]:
        if may_use(model.global_id):
            kept.append(model)
        else:
            call.attempts.entries.append(
                {
                    "model": model.global_id,
                    "attempt": 0,
                    "status": "skipped",
                    "error_type": "model_not_allowed",
                }
            )
    return kept


def _run(call: Call, messages: list[Message], tools: list[Tool], action: str) -> tuple[Target, Any]:
    """Try the primary model, then each fallback, each with retries; return the winner."""
    settings = call.settings
    assert settings is not None
    if settings.system_prompt:  # the feature's own instructions come first, always
        messages = [Message(role="system", content=settings.system_prompt), *messages]
    models = _allowed(call, candidates(settings))
    call.record.prompt_chars = sum(len(m.content or "") for m in messages)
    call.record.prompt_messages = len(messages)
    hold_money(call, models)
    last: LLMError | None = None
    for index, model in enumerate(models):
        try:
            cooldown.check(model)  # Unavailable while it cools down: straight to fallbacks
            targets = targets_for(call, model)
        except (NotConfigured, Unavailable) as exc:
            primary_unusable = index == 0 and isinstance(exc, NotConfigured)
            if primary_unusable or (index == len(models) - 1 and last is None):
                raise
            call.attempts.entries.append(
                {
                    "model": model.global_id,
                    "attempt": 0,
                    "status": "skipped",
                    "error_type": exc.error_type,
                }
            )
            last = last or exc
            continue
        request = _request(call, targets[0], messages, tools)
        release_connection()

        def send(t: Any, r: Any = request) -> Any:
            return getattr(t.adapter, action)(t.client, r)

        try:
            target, result = attempts.run(
                call, targets, send, retry.Policy.of(settings.values, request.timeout_s)
            )
        except LLMError as exc:
            cooldown.failed(model, exc)
            last = exc
            if not exc.fallback:
                raise
            continue
        cooldown.succeeded(model)
        return target, result
    assert last is not None
    raise last


def _reply_chars(text: str, calls: list[ToolCall]) -> int:
    """The size of a reply, to estimate its tokens if the upstream never says."""
    return len(text) + sum(len(c.name) + len(str(c.arguments)) for c in calls)


def _completion(
    call: Call, target: Target, result: ChatResult, ttft_ms: int | None = None
) -> Completion:
    record = call.record
    record.usage, record.stop_reason, record.ttft_ms = result.usage, result.stop_reason, ttft_ms
    record.reply_chars = _reply_chars(result.text, result.tool_calls)
    record.response_body = {
        "text": result.text,
        "tool_calls": [c.to_dict() for c in result.tool_calls],
        "stop_reason": result.stop_reason,
    }
    return Completion(
        text=result.text,
        tool_calls=result.tool_calls,
        stop_reason=result.stop_reason,
        usage=result.usage,
        model=target.model.global_id,
        request_id=record.request_id,
        key_source=target.key.source,
        cost_usd=None,
        credits=None,
        latency_ms=call.elapsed_ms(),
        ttft_ms=ttft_ms,
        attempts=call.attempts.entries,
        dropped_params=record.dropped_params,
    )


@leaves_caller_pending
def complete(
    messages: list[Any],
    *,
    context: CallContext,
    model: str | None = None,
    overrides: dict[str, Any] | None = None,
    tools: list[Any] | None = None,
) -> Completion:
    """One chat completion. Raises an LLMError subclass; always writes one usage record."""
    call = new_call(context, "chat", model)
    with metered(call):
        normalized, tool_list = to_messages(messages), to_tools(tools)
        resolve_settings(call, {**(overrides or {}), **({"model": model} if model else {})})
        target, result = _run(call, normalized, tool_list, "chat")
        completion = _completion(call, target, result)
    return call.priced(completion)


class CompletionStream:
    """Iterate (once) for ``StreamEvent``s. The upstream stream is already open (errors
    before the first byte were raised by ``stream``); the usage record is written exactly
    once: when the stream ends, fails, or is closed early — call ``close()`` when the reader
    goes away (web views register it with ``response.call_on_close``)."""

    def __init__(self, call: Call, target: Target, deltas: Iterator[Delta]) -> None:
        self.call, self.target, self._deltas = call, target, deltas
        self.request_id = call.record.request_id
        self.completion: Completion | None = None
        self._events: Generator[StreamEvent, None, None] | None = None
        self._running = False  # the events generator has started (it owns the record)
        self._finished = False

    def __iter__(self) -> Iterator[StreamEvent]:
        if self._events is not None or self._finished:
            raise RuntimeError("A completion stream can be read only once.")
        self._events = self._generate()
        return self._events

    def _generate(self) -> Generator[StreamEvent, None, None]:
        self._running = True
        call, target = self.call, self.target
        text: list[str] = []
        calls: list[ToolCall] = []
        usage, stop, ttft = Usage(), None, None
        held = False  # an event marked ``more`` went out and its run has not ended yet
        with metered(call):
            try:
                for delta in self._deltas:
                    if delta.usage is not None:
                        usage = call.record.usage = delta.usage
                    stop = delta.stop_reason or stop
                    if delta.text or delta.tool_call:
                        if ttft is None:
                            ttft = call.record.ttft_ms = call.elapsed_ms()
                        held = delta.more
                        if delta.text:
                            text.append(delta.text)
                            yield StreamEvent("text", text=delta.text, more=delta.more)
                        else:
                            calls.append(delta.tool_call)  # type: ignore[arg-type]
                            yield StreamEvent(
                                "tool_call", tool_call=delta.tool_call, more=delta.more
                            )
                    elif held and not delta.more:
                        held = False
                        yield StreamEvent("flush")
            except GeneratorExit:
                self._close_upstream()
                call.record.error = Cancelled("The caller stopped reading the stream.")
                call.record.response_body = {"text": "".join(text), "partial": True}
                call.record.reply_chars = _reply_chars("".join(text), calls)
                return
            except Exception as exc:
                call.record.response_body = {"text": "".join(text), "partial": True}
                call.record.reply_chars = _reply_chars("".join(text), calls)
                raise classify(exc, target.model.provider_name, (target.key.secret,)) from None
            finally:
                self._finished = True
            self.completion = _completion(
                call, target, ChatResult("".join(text), calls, stop, usage), ttft
            )
        call.priced(self.completion)
        yield StreamEvent("done", completion=self.completion)

    def _close_upstream(self) -> None:
        closer = getattr(self._deltas, "close", None)
        if closer:
            closer()

    def close(self) -> None:
        """The reader is gone: stop the upstream stream and record the cancellation (a
        finished stream is left as it is)."""
        if self._running:
            if self._events is not None:
                self._events.close()  # GeneratorExit inside writes the record
            return
        if self._finished:
            return
        self._finished = True
        self._close_upstream()
        self.call.record.error = Cancelled("The stream was closed before it was read.")
        with metered(self.call):
            pass


@leaves_caller_pending
def stream(
    messages: list[Any],
    *,
    context: CallContext,
    model: str | None = None,
    overrides: dict[str, Any] | None = None,
    tools: list[Any] | None = None,
) -> CompletionStream:
    """Open a streamed completion; retries and fallbacks apply until the first byte."""
    call = new_call(context, "chat", model, stream=True)
    try:
        normalized, tool_list = to_messages(messages), to_tools(tools)
        resolve_settings(call, {**(overrides or {}), **({"model": model} if model else {})})
        target, deltas = _run(call, normalized, tool_list, "open_stream")
    except BaseException:
        with metered(call):  # record the failure once, then let it propagate
            raise
    return CompletionStream(call, target, deltas)
