"""Metering: one usage record per call, cost from catalog prices, bodies per logging settings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.models import Credential, Mode, UsageRecord
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.llm.errors import LLMError, redact
from webapp.services.llm.types import Usage

log = logging.getLogger(__name__)
MILLION = Decimal(1_000_000)


def compute_cost(model: ModelInfo | None, usage: Usage | None) -> Decimal | None:
    """USD from catalog prices; None (unpriced) when a needed price is missing — never 0."""
    if model is None or usage is None or usage.input_tokens is None:
        return None
    if model.input_price is None or (usage.output_tokens and model.output_price is None):
        return None
    cached = usage.cached_tokens or 0
    cached_price = (
        model.cached_input_price if model.cached_input_price is not None else model.input_price
    )
    cost = (
        Decimal(usage.input_tokens - cached) * model.input_price
        + Decimal(cached) * cached_price
        + Decimal(usage.output_tokens or 0) * (model.output_price or Decimal(0))
    ) / MILLION
    return cost.quantize(Decimal("0.00000001"))


def _clip(value: str | None, size: int) -> str | None:
    """Upstream-controlled text, cut to its column so metering never fails on length."""
    return value[:size] if value else value


def bodies_to_keep(logging_settings: dict[str, Any], failed: bool) -> tuple[bool, bool]:
    """(keep request body, keep response body) under the effective logging settings.

    ``full`` keeps the flagged bodies of every call, ``errors_only`` only of failed calls,
    ``minimal`` never; logging disabled keeps none. Metering is kept regardless.
    """
    if not logging_settings.get("logging_enabled"):
        return False, False
    level = logging_settings.get("logging_level") or "minimal"
    if level == "minimal" or (level == "errors_only" and not failed):
        return False, False
    return bool(logging_settings.get("log_request_bodies")), bool(
        logging_settings.get("log_response_bodies")
    )


@dataclass
class CallRecord:
    """Everything known about a finished call, gathered by the call service."""

    request_id: str
    caller: str
    operation: str = "chat"
    user_id: int | None = None
    org_id: int | None = None
    feature_id: int | None = None
    access_token_id: int | None = None
    requested_model: str | None = None
    model: ModelInfo | None = None
    mode: str | None = None
    key_source: str | None = None
    credential_id: int | None = None
    stream: bool = False
    usage: Usage | None = None
    latency_ms: int | None = None
    ttft_ms: int | None = None
    stop_reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    dropped_params: list[str] = field(default_factory=list)
    error: LLMError | None = None
    request_body: Any = None
    response_body: Any = None
    logging: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metered:
    """What the call's result needs back from metering."""

    cost_usd: Decimal | None
    credits: Decimal | None


# Credential ids and when this process last wrote their ``last_used_at``: at most once a
# minute per key, so a busy key does not cost an UPDATE per call.
LAST_USED_EVERY_S = 60.0
_last_used: dict[int, float] = {}


def _credits(call: CallRecord, cost: Decimal | None) -> Decimal | None:
    if cost is None or call.model is None:
        return None
    if call.mode != Mode.MANAGED:
        return Decimal(0)
    return (cost * call.model.credit_multiplier).quantize(Decimal("0.00000001"))


def _row(call: CallRecord, cost: Decimal | None, credits: Decimal | None) -> dict[str, Any]:
    failed = call.error is not None
    keep_request, keep_response = bodies_to_keep(call.logging, failed)
    usage = call.usage or Usage()
    model = call.model
    return {
        "created_at": utcnow(),
        "request_id": call.request_id,
        "caller": call.caller,
        "operation": call.operation,
        "user_id": call.user_id,
        "org_id": call.org_id,
        "feature_id": call.feature_id,
        "access_token_id": call.access_token_id,
        "provider_id": model.provider_id if model else None,
        # A stand-in model (id 0) of a connection test is not a catalog row.
        "model_id": model.id if model and model.id else None,
        "provider_slug": model.provider_slug if model else None,
        "model_name": model.model_id if model else None,
        "requested_model": _clip(call.requested_model, 300),
        "mode": call.mode,
        "key_source": call.key_source,
        "credential_id": call.credential_id,
        "status": "error" if failed else "ok",
        "error_type": call.error.error_type if call.error else None,
        # The sanitized upstream excerpt is kept for admins (see LLMError.detail).
        "error_message": redact(call.error.admin_message, call.secrets)[:1000]
        if call.error
        else None,
        "stream": call.stream,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cost_usd": cost,
        "unpriced": usage.input_tokens is not None and cost is None,
        "credits": credits,
        "latency_ms": call.latency_ms,
        "ttft_ms": call.ttft_ms,
        "attempts": call.attempts or None,
        "dropped_params": call.dropped_params or None,
        "stop_reason": _clip(call.stop_reason, 32),
        "request_body": call.request_body if keep_request else None,
        "response_body": call.response_body if keep_response else None,
    }


def _mark_used(connection: Any, credential_id: int | None, now: datetime) -> None:
    """``last_used_at`` of the key that served a successful call, at most once a minute."""
    if credential_id is None:
        return
    clock = time.monotonic()
    if clock - _last_used.get(credential_id, float("-inf")) < LAST_USED_EVERY_S:
        return
    _last_used[credential_id] = clock
    table = Credential.__table__
    connection.execute(
        sa.update(table)
        .where(table.c.id == credential_id)
        .values(last_used_at=now, updated_at=table.c.updated_at)  # bookkeeping, not an edit
    )


def write(call: CallRecord) -> Metered:
    """Insert the call's usage record in a transaction of its own (Core, no ORM objects)."""
    cost = compute_cost(call.model, call.usage)
    credits = _credits(call, cost)
    row = _row(call, cost, credits)
    # Its own transaction: never commits (or loses to a rollback) what the caller has pending.
    with side_writes.own_transaction() as connection:
        connection.execute(sa.insert(UsageRecord.__table__).values(**row))
        if call.error is None:
            _mark_used(connection, call.credential_id, row["created_at"])
    log.info(
        "call %s %s %s status=%s tokens=%s/%s cost=%s key=%s latency=%sms",
        call.request_id,
        call.operation,
        row["model_name"] or call.requested_model,
        row["status"],
        row["input_tokens"],
        row["output_tokens"],
        cost,
        call.key_source,
        call.latency_ms,
    )
    return Metered(cost, credits)
