"""The usage record of a call whose process died before metering it: written once, from
what its reservation remembered, with no charge (nothing is known to have been used)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from webapp.models import CallStatus, UsageRecord
from webapp.services.usage.references import drop_vanished

USAGE = UsageRecord.__table__
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
        error_type="interrupted",
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
