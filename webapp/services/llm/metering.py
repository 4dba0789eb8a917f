"""Metering: one usage record per call, cost from catalog prices, bodies per logging settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from webapp.extensions import db
from webapp.models import Mode, UsageRecord
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


def write(call: CallRecord) -> UsageRecord:
    """Insert the usage record in its own transaction and return it."""
    failed = call.error is not None
    keep_request, keep_response = bodies_to_keep(call.logging, failed)
    cost = compute_cost(call.model, call.usage)
    priced_usage = call.usage is not None and call.usage.input_tokens is not None
    credits = None
    if cost is not None and call.model is not None:
        credits = (
            (cost * call.model.credit_multiplier).quantize(Decimal("0.00000001"))
            if call.mode == Mode.MANAGED
            else Decimal(0)
        )
    usage = call.usage or Usage()
    record = UsageRecord(
        request_id=call.request_id,
        caller=call.caller,
        operation=call.operation,
        user_id=call.user_id,
        org_id=call.org_id,
        feature_id=call.feature_id,
        access_token_id=call.access_token_id,
        provider_id=call.model.provider_id if call.model else None,
        model_id=call.model.id if call.model else None,
        provider_slug=call.model.provider_slug if call.model else None,
        model_name=call.model.model_id if call.model else None,
        requested_model=_clip(call.requested_model, 300),
        mode=call.mode,
        key_source=call.key_source,
        credential_id=call.credential_id,
        status="error" if failed else "ok",
        error_type=call.error.error_type if failed else None,
        # The sanitized upstream excerpt is kept for admins (see errors.LLMError.detail).
        error_message=redact(call.error.admin_message, call.secrets)[:1000] if failed else None,
        stream=call.stream,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cost_usd=cost,
        unpriced=priced_usage and cost is None,
        credits=credits,
        latency_ms=call.latency_ms,
        ttft_ms=call.ttft_ms,
        attempts=call.attempts or None,
        dropped_params=call.dropped_params or None,
        stop_reason=_clip(call.stop_reason, 32),
        request_body=call.request_body if keep_request else None,
        response_body=call.response_body if keep_response else None,
    )
    db.session.add(record)
    db.session.commit()
    log.info(
        "call %s %s %s status=%s tokens=%s/%s cost=%s key=%s latency=%sms",
        call.request_id,
        call.operation,
        record.model_name or call.requested_model,
        record.status,
        usage.input_tokens,
        usage.output_tokens,
        cost,
        call.key_source,
        call.latency_ms,
    )
    return record
