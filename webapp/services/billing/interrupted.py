"""The usage record of a call whose process died before metering it: written once, from
what its reservation remembered, with no charge (nothing is known to have been used).

It is a placeholder: a call whose metering was only delayed (kept in the outbox while the
database was unavailable) may still bring its real record, which then takes its place
(``metering.persist``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from webapp.extensions import db
from webapp.models import CallStatus, UsageRecord
from webapp.services.usage.references import drop_vanished

USAGE = UsageRecord.__table__
INTERRUPTED = "interrupted"  # the error type of a placeholder, and of nothing else
CALL_FIELDS = (
    "caller",
    "operation",
    "user_id",
    "org_id",
    "feature_id",
    "access_token_id",
    "provider_id",
    "model_id",
    "provider_slug",
    "model_name",
    "requested_model",
    "mode",
    "stream",
)


class Landed(NamedTuple):
    """The record a request id already has."""

    id: int
    placeholder: bool  # written by the sweep, not by the call's own metering


def landed(connection: Connection, request_id: str) -> Landed | None:
    found = connection.execute(
        sa.select(USAGE.c.id, USAGE.c.error_type).where(USAGE.c.request_id == request_id)
    ).first()
    return None if found is None else Landed(found.id, found.error_type == INTERRUPTED)


def record_interrupted(connection: Connection, reservation: Any, now: datetime) -> None:
    request_id = reservation["request_id"]
    if connection.execute(sa.select(USAGE.c.id).where(USAGE.c.request_id == request_id)).first():
        return
    call: dict[str, Any] = (reservation["holds"] or {}).get("call") or {}
    values = {name: call.get(name) for name in CALL_FIELDS}
    values.update(
        created_at=reservation["created_at"] or now,
        request_id=request_id,
        caller=values["caller"] or "api",
        operation=values["operation"] or "chat",
        stream=bool(values["stream"]),
        status=CallStatus.ERROR,
        error_type=INTERRUPTED,
        error_message=(
            "The process serving this call stopped before the call finished; what it held "
            "was released and nothing was charged."
        ),
        estimated=False,
        usage_adjusted=False,
        unpriced=False,
    )
    # A user, model or token deleted since the call began must not fail the sweep (and keep
    # every other expired reservation held with it).
    drop_vanished(connection, values)
    connection.execute(sa.insert(USAGE).values(**values))


def remove_placeholder(record_id: int) -> None:
    """Delete a placeholder, in ``db.session``'s transaction, so the call's real record can
    take its place; out of the rollups too if they count it already."""
    from webapp.services.usage import rollups

    still = db.session.scalar(
        sa.select(USAGE.c.id).where(USAGE.c.id == record_id, USAGE.c.error_type == INTERRUPTED)
    )
    if still is not None:
        rollups.delete_records([record_id])
