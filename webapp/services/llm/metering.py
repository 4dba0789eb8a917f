"""Metering: one usage record per call, cost from catalog prices, bodies per logging settings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import AuditEvent, CallStatus, Credential, Mode, UsageRecord
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.audit.events import diff as audit_diff
from webapp.services.billing import interrupted, reservations
from webapp.services.billing.plan import BudgetRef
from webapp.services.billing.reservations import Hold
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.llm import outbox
from webapp.services.llm.errors import LLMError, redact
from webapp.services.llm.types import Usage
from webapp.services.llm.usage import MeteredUsage, cost_usd, credits_for, normalize
from webapp.services.usage.references import drop_vanished

log = logging.getLogger(__name__)


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
    prompt_chars: int = 0  # to estimate tokens when the upstream reports none
    prompt_messages: int = 0
    reply_chars: int = 0
    max_tokens: int | None = None  # the output the call asked for: a cap on what is billed
    hold: Hold | None = None  # money held for this managed call, settled when it is metered
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
USAGE = UsageRecord.__table__
# Values are passed as parameters, never baked into the statement: one compiled statement
# serves every call (``insert().values(**row)`` is compiled again for each).
INSERT_USAGE = USAGE.insert().returning(USAGE.c.id)
LAST_USED_EVERY_S = 60.0
_last_used: dict[int, float] = {}


def status_of(call: CallRecord) -> str:
    if call.error is None:
        return CallStatus.OK
    return CallStatus.CANCELLED if call.error.error_type == "cancelled" else CallStatus.ERROR


def metered_usage(call: CallRecord) -> MeteredUsage:
    """The call's usage fit to bill. A call that never reached the upstream used nothing; one
    that did but reports nothing (a cut stream, a cancelled call) is estimated."""
    reached = call.usage is not None or call.reply_chars > 0
    if not reached:
        return MeteredUsage(Usage())
    return normalize(
        call.usage,
        call.model,
        prompt_chars=call.prompt_chars,
        reply_chars=call.reply_chars,
        expect_output=call.operation == "chat",
        max_output=call.max_tokens,
    )


def _row(call: CallRecord, metered: MeteredUsage, cost: Decimal | None) -> dict[str, Any]:
    failed = call.error is not None
    keep_request, keep_response = bodies_to_keep(call.logging, failed)
    usage = metered.usage
    model = call.model
    credits = credits_for(cost, model, call.mode == Mode.MANAGED)
    return {
        "created_at": utcnow(),
        # Explicit, as every column: the one-statement settlement (PostgreSQL) inserts the
        # keys of this row as they are, without the model's Python-side defaults.
        "rolled": False,
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
        "status": status_of(call),
        "error_type": call.error.error_type if call.error else None,
        # The sanitized upstream excerpt is kept for admins (see LLMError.detail).
        "error_message": redact(call.error.admin_message, call.secrets)[:1000]
        if call.error
        else None,
        "stream": call.stream,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "estimated": metered.estimated,
        "usage_adjusted": metered.adjusted,
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


def _warn(connection: Connection, budget: BudgetRef, spent: Decimal, percent: int) -> None:
    """A soft budget crossed a threshold: an audit event every admin page can show."""
    connection.execute(
        sa.insert(AuditEvent.__table__).values(
            created_at=utcnow(),
            action="warn",
            target_type="budget",
            target_id=str(budget.id),
            target_label=f"{budget.owner} {budget.period} budget",
            diff=audit_diff(
                None,
                {
                    "threshold_percent": percent,
                    "spent": f"{spent:f}",
                    "amount": f"{budget.amount:f}",
                },
            ),
        )
    )
    log.warning("budget %s reached %s%% (%s of %s)", budget.id, percent, spent, budget.amount)


def _write(connection: Connection, entry: dict[str, Any], *, first_try: bool) -> None:
    """The usage record, the key's last use, and the settlement of what the call held."""
    row, hold = entry["row"], entry["hold"]
    charges = hold is not None and hold.plan.charges
    if charges and first_try and connection.dialect.name == "postgresql":
        reservations.settle_with_usage(
            connection, hold, row, usd=row["cost_usd"], credits=row["credits"], warn=_warn
        )
    else:
        usage_id = connection.execute(INSERT_USAGE, row).scalar_one()
        if charges:
            reservations.settle(
                connection,
                hold,
                usd=row["cost_usd"],
                credits=row["credits"],
                usage_id=usage_id,
                warn=_warn,
            )
    if row["status"] == CallStatus.OK:
        _mark_used(connection, row["credential_id"], row["created_at"])


def persist(entry: dict[str, Any], *, replay: bool = False) -> None:
    """Write one metering entry in one transaction of its own, so all of it lands or none.

    ``replay`` (a second attempt, the outbox) first checks whether an earlier attempt landed
    after all, and drops references to rows deleted in the meantime. If what it finds is the
    ``interrupted`` placeholder of a reservation sweep (the call looked dead while its entry
    waited in the outbox), the real record takes its place and is charged."""
    row, hold = entry["row"], entry["hold"]
    redo = lambda: persist(entry, replay=True)  # noqa: E731 - the test suite's re-apply
    # One statement writes the record and its settlement (PostgreSQL), so it needs no
    # transaction around it — unless a soft budget may add a warning that must land with it.
    single = not replay and (hold is None or all(b.hard for b in hold.plan.budgets))
    with side_writes.own_transaction(redo, single_statements=single) as connection:
        if not replay:
            _write(connection, entry, first_try=True)
            return
        if hold is not None and hold.reserved:
            reservations.claim(connection, hold.request_id)
        found = interrupted.landed(connection, row["request_id"])
        if found is None:
            drop_vanished(connection, row)
            _write(connection, entry, first_try=False)
            return
        if not found.placeholder:
            return  # landed already
    _replace_placeholder(found.id, entry)


def _replace_placeholder(record_id: int, entry: dict[str, Any]) -> None:
    """The real record in the placeholder's place, charged, in one transaction. The sweep
    that wrote the placeholder deleted the reservation and released its hold: settling finds
    no reservation and releases nothing twice. It runs in a session of its own (not the
    caller's): the rollups may count the placeholder already, and taking it out is theirs."""
    side_writes.release_connection()
    with current_app.app_context():  # a new db.session, removed (rolled back) at its end
        interrupted.remove_placeholder(record_id)
        connection = db.session.connection()
        drop_vanished(connection, entry["row"])
        _write(connection, entry, first_try=False)
        db.session.commit()
    log.warning("metering %s replaced its interrupted placeholder", entry["row"]["request_id"])


def write(call: CallRecord) -> Metered:
    """Meter the call. A write that fails never fails the call and never loses the charge:
    the entry goes to the outbox and lands later, exactly once (see ``outbox``)."""
    metered = metered_usage(call)
    cost = cost_usd(call.model, metered.usage)
    row = _row(call, metered, cost)
    if call.hold is not None and call.hold.plan.account_id is not None:
        row["account_id"] = call.hold.plan.account_id
    entry = {"row": row, "hold": call.hold}
    try:
        try:
            persist(entry)
        except IntegrityError:  # landed already, or a referenced row vanished meanwhile
            persist(entry, replay=True)
    except Exception as exc:  # the type only: a message may quote the row's values
        log.error(
            "metering %s failed (%s): kept in the outbox", call.request_id, type(exc).__name__
        )
        outbox.keep(entry)
    else:
        outbox.drain_soon()
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
    return Metered(cost, row["credits"])
