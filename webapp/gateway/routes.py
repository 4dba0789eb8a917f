"""The gateway's endpoints: parse, authenticate, admit, call the service, format."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from flask import Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.extensions import db
from webapp.gateway import bp
from webapp.services import llm
from webapp.services.catalog import names, snapshot
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.errors import ServiceError
from webapp.services.llm.calls import MESSAGE_OVERHEAD_TOKENS
from webapp.services.llm.types import Usage
from webapp.services.llm.usage import estimate_tokens
from webapp.services.settings import resolution as effective_settings
from webapp.views.streaming import stream_response

from . import anthropic_wire, bodies, openai_wire, rate_limits
from .caller import Caller, current_caller
from .errors import ANTHROPIC, GatewayError, from_service_error, render, request_protocol

CHARS_PER_TOKEN = 4  # a cancelled stream's tokens, when the upstream never said


def _protocol() -> str:
    return request_protocol()


@bp.after_request
def _rate_limit_headers(response: Response) -> Response:
    budget = g.get("gateway_budget")
    if budget is not None:
        response.headers.update(budget.headers())
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(GatewayError)
def _gateway_error(exc: GatewayError) -> Response:
    db.session.rollback()
    return render(exc, _protocol())


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    return render(from_service_error(exc, byok=bool(g.get("gateway_byok"))), _protocol())


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return render(GatewayError(status, exc.description or exc.name), _protocol())


def _admit(caller: Caller) -> rate_limits.Budget:
    g.gateway_byok = bool(caller.byok_key)
    try:
        budget = rate_limits.admit(caller.identity)
    except rate_limits.LimitsUnavailable:
        raise GatewayError(
            503, "Rate limits cannot be checked right now. Try again shortly.", retry_after=1
        ) from None
    except rate_limits.RateLimitHit as hit:
        g.gateway_budget = hit.budget
        raise GatewayError(
            429, hit.message, code="rate_limit_exceeded", retry_after=hit.retry_after
        ) from None
    g.gateway_budget = budget
    return budget


def _org_id(caller: Caller) -> int | None:
    return caller.org.id if caller.org is not None else None


def _refuse_model(info: ModelInfo) -> GatewayError:
    return GatewayError(
        403,
        f"This access token may not use {info.global_id}.",
        code="model_not_allowed",
        param="model",
    )


def _choose_model(caller: Caller, name: str | None, *, embedding: bool = False) -> str | None:
    """The global id to call (None: the feature or the default decides). With a token limited
    to some models, the model the call would really use is checked — a feature's locked
    model or the default included."""
    info = names.resolve_name(name, org_id=_org_id(caller)) if name else None
    if caller.identity.allowed_models is None:
        return info.global_id if info else None
    if embedding:
        info = info or snapshot.default_model("embedding")
    else:
        settings = effective_settings.resolve(
            user_id=caller.user.id if caller.user else None,
            org_id=_org_id(caller),
            feature=caller.feature,
            overrides={"model": info.global_id} if info else None,
        )
        info = settings.model
    if info is not None and not caller.identity.may_use(info.global_id):
        raise _refuse_model(info)
    return info.global_id if info else None


def _tokens(usage: Usage | None, prompt_chars: int, reply_chars: int) -> int:
    if usage is not None and (usage.input_tokens or usage.output_tokens):
        return (usage.input_tokens or 0) + (usage.output_tokens or 0)
    return math.ceil((prompt_chars + reply_chars) / CHARS_PER_TOKEN)


def _prompt_chars(body: bodies.ChatBody) -> int:
    return sum(len(m.content or "") for m in body.messages)


def _with_request_id(payload: dict[str, Any], request_id: str) -> Response:
    response = jsonify(payload)
    response.headers["x-request-id"] = request_id
    return response


def _chat(body: bodies.ChatBody, caller: Caller, budget: rate_limits.Budget) -> Response:
    model = _choose_model(caller, body.model)
    context = caller.context()
    protocol = _protocol()
    prompt_chars = _prompt_chars(body)
    if not body.stream:
        result = llm.complete(
            body.messages, context=context, model=model, overrides=body.overrides, tools=body.tools
        )
        rate_limits.count_tokens(budget, _tokens(result.usage, prompt_chars, len(result.text)))
        payload = (
            anthropic_wire.message(result)
            if protocol == ANTHROPIC
            else openai_wire.completion(result)
        )
        return _with_request_id(payload, result.request_id)

    reply = llm.stream(
        body.messages, context=context, model=model, overrides=body.overrides, tools=body.tools
    )

    def on_end(usage: Usage | None, chars: int) -> None:
        rate_limits.count_tokens(budget, _tokens(usage, prompt_chars, chars))

    def error_payload(exc: Exception) -> Any:
        error = (
            from_service_error(exc, byok=context.byok_key is not None)
            if isinstance(exc, ServiceError)
            else GatewayError(502, "The stream failed.")
        )
        return render(error, protocol).get_json()

    def body_of(stream: llm.CompletionStream) -> Iterator[str]:
        common: dict[str, Any] = {
            "request_id": stream.request_id,
            "model": stream.target.model.global_id,
            "error_payload": error_payload,
            "on_end": on_end,
        }
        if protocol == ANTHROPIC:
            return anthropic_wire.events(iter(stream), **common)
        return openai_wire.chunks(iter(stream), include_usage=body.include_usage, **common)

    return stream_response(
        reply, body_of, mimetype="text/event-stream", headers={"x-request-id": reply.request_id}
    )


@bp.post("/chat/completions")
def chat_completions() -> Response:
    caller = current_caller()
    body = bodies.openai_chat(bodies.read_json())
    return _chat(body, caller, _admit(caller))


@bp.post("/messages")
def messages() -> Response:
    caller = current_caller()
    body = bodies.anthropic_messages(bodies.read_json())
    return _chat(body, caller, _admit(caller))


@bp.post("/messages/count_tokens")
def count_message_tokens() -> Response:
    """Anthropic's token count before a call (Claude Code asks it): an estimate from the
    text, as metering estimates when an upstream does not say — no upstream call, no charge.
    The body is validated like a real call, and the model must be one the token may use."""
    caller = current_caller()
    body = bodies.anthropic_messages(bodies.read_json())
    _admit(caller)
    _choose_model(caller, body.model)
    chars = _prompt_chars(body) + sum(
        len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in body.tools
    )
    tokens = estimate_tokens(chars) + MESSAGE_OVERHEAD_TOKENS * len(body.messages)
    return jsonify({"input_tokens": tokens})


@bp.post("/embeddings")
def embeddings() -> Response:
    caller = current_caller()
    body = bodies.openai_embeddings(bodies.read_json())
    budget = _admit(caller)
    model = _choose_model(caller, body.model, embedding=True)
    result = llm.embed(body.inputs, context=caller.context(), model=model)
    chars = sum(len(t) for t in body.inputs)
    rate_limits.count_tokens(budget, _tokens(result.usage, chars, 0))
    return _with_request_id(openai_wire.embeddings(result, body.base64), result.request_id)


def _visible_models(caller: Caller) -> list[ModelInfo]:
    allowed_by_org = caller.org.allowed_models if caller.org is not None else None
    found = []
    for info in [*snapshot.usable_models(), *snapshot.usable_models(embedding=True)]:
        if allowed_by_org is not None and info.global_id not in allowed_by_org:
            continue
        if not caller.identity.may_use(info.global_id):
            continue
        found.append(info)
    return found


@bp.get("/models")
def models() -> Response:
    caller = current_caller()
    _admit(caller)
    visible = _visible_models(caller)
    aliases = [
        (alias.name, alias.model)
        for alias in names.list_aliases()
        if any(m.global_id == alias.model for m in visible)
    ]
    if request.headers.get("anthropic-version"):
        entries = [(m.global_id, m.display_name) for m in visible]
        entries += [(name, f"Alias of {target}") for name, target in aliases]
        return jsonify(anthropic_wire.model_list(entries))
    entries = [(m.global_id, m.provider_slug) for m in visible]
    entries += [(name, "switchboard") for name, _ in aliases]
    return jsonify(openai_wire.model_list(entries))
