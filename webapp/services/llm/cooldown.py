"""Provider cooldown: a model (and its provider) that keeps failing is given a rest.

``FAILURES`` outages or timeouts within ``WINDOW_S`` seconds cool the model and its provider
down for ``COOLDOWN_S``: calls skip them and go straight to their fallback models (or fail
fast when there is none). When the time is up the next call is the probe: success restores
them, another failure cools them down again at once. The state lives in the database
(``provider_health``), so every process sees it; each process re-reads it at most once a
second. Writes happen only on failures and on the first success after them.

Configuration: ``SWITCHBOARD_COOLDOWN_FAILURES`` (5), ``SWITCHBOARD_COOLDOWN_WINDOW_S`` (60),
``SWITCHBOARD_COOLDOWN_S`` (60).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Connection

from webapp.models import ProviderHealth
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.errors import LLMError
from webapp.services.llm.errors import Unavailable

log = logging.getLogger(__name__)
HEALTH = ProviderHealth.__table__
COUNTED = ("unavailable", "timeout")  # outages; rate limits are per key (see pools)
REFRESH_S = 1.0
PROVIDER = ""  # model_key of the provider-wide row


@dataclass(frozen=True)
class Health:
    provider_id: int
    model_key: str
    failures: int
    cooldown_until: datetime | None
    reason: str | None

    def cooling(self, now: datetime) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now


class _State:
    """This process's copy of the table, read again at most every ``REFRESH_S``."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, str], Health] = {}
        self.read_at = float("-inf")
        self.lock = threading.Lock()

    def current(self) -> dict[tuple[int, str], Health]:
        if time.monotonic() - self.read_at >= REFRESH_S:
            self.refresh()
        return self.rows

    def refresh(self) -> None:
        with side_writes.own_transaction(single_statements=True) as connection:
            rows = connection.execute(sa.select(HEALTH).where(HEALTH.c.failures > 0)).mappings()
            fresh = {
                (r["provider_id"], r["model_key"]): Health(
                    r["provider_id"],
                    r["model_key"],
                    r["failures"],
                    r["cooldown_until"],
                    r["reason"],
                )
                for r in rows
            }
        with self.lock:
            self.rows, self.read_at = fresh, time.monotonic()


_state = _State()


def _setting(name: str, default: float) -> float:
    return float(current_app.config.get(name, default))


def check(model: ModelInfo) -> None:
    """Unavailable while the model or its provider cools down."""
    rows = _state.current()
    if not rows:
        return
    now = utcnow()
    for key in ((model.provider_id, model.model_id), (model.provider_id, PROVIDER)):
        health = rows.get(key)
        if health is not None and health.cooling(now):
            until = health.cooldown_until
            assert until is not None
            what = model.provider_name if key[1] == PROVIDER else model.global_id
            raise Unavailable(
                f"{what} is cooling down after repeated failures ({health.reason}); it is "
                f"tried again after {until:%H:%M:%S} UTC. Configure a fallback model to "
                "keep calls going meanwhile."
            )


def failed(model: ModelInfo, error: LLMError) -> None:
    """Count an outage or timeout against the model and its provider."""
    if error.error_type not in COUNTED:
        return
    now = utcnow()
    reason = f"{error.error_type}" + (f" {error.http_status}" if error.http_status else "")
    try:
        with side_writes.own_transaction() as connection:
            for key in (model.model_id, PROVIDER):
                _count(connection, model, key, now, reason)
    except Exception:  # bookkeeping must never turn one failure into another
        log.exception("could not record a failure of %s", model.global_id)
    _state.read_at = float("-inf")


def _count(connection: Connection, model: ModelInfo, key: str, now: datetime, reason: str) -> None:
    window = timedelta(seconds=_setting("COOLDOWN_WINDOW_S", 60))
    threshold = int(_setting("COOLDOWN_FAILURES", 5))
    rest = timedelta(seconds=_setting("COOLDOWN_S", 60))
    where = (HEALTH.c.provider_id == model.provider_id) & (HEALTH.c.model_key == key)
    row = connection.execute(sa.select(HEALTH).where(where)).mappings().first()
    if row is None:
        connection.execute(
            sa.insert(HEALTH).values(
                provider_id=model.provider_id,
                model_key=key,
                failures=1,
                window_started_at=now,
                cooldown_until=now + rest if threshold <= 1 else None,
                reason=reason,
                updated_at=now,
            )
        )
        return
    probe_failed = row["cooldown_until"] is not None and row["cooldown_until"] <= now
    fresh_window = row["window_started_at"] is None or now - row["window_started_at"] > window
    failures = 1 if fresh_window and not probe_failed else row["failures"] + 1
    cool = probe_failed or failures >= threshold
    connection.execute(
        sa.update(HEALTH)
        .where(where)
        .values(
            failures=max(failures, threshold) if probe_failed else failures,
            window_started_at=now if fresh_window else row["window_started_at"],
            cooldown_until=now + rest if cool else row["cooldown_until"],
            reason=reason,
            updated_at=now,
        )
    )
    if cool:
        log.warning(
            "%s/%s cools down until %s (%s)", model.provider_slug, key or "*", now + rest, reason
        )


def succeeded(model: ModelInfo) -> None:
    """A call worked: forget the failures (one write, only if there were any)."""
    rows = _state.current()
    keys = [
        k for k in ((model.provider_id, model.model_id), (model.provider_id, PROVIDER)) if k in rows
    ]
    if not keys:
        return
    try:
        with side_writes.own_transaction() as connection:
            for provider_id, key in keys:
                connection.execute(
                    sa.delete(HEALTH).where(
                        (HEALTH.c.provider_id == provider_id) & (HEALTH.c.model_key == key)
                    )
                )
    except Exception:
        log.exception("could not clear the failures of %s", model.global_id)
    _state.read_at = float("-inf")
    log.info("%s works again", model.global_id)


def cooling_down() -> list[Health]:
    """What is cooling down right now (for the providers page and /healthz)."""
    now = utcnow()
    return [h for h in _state.current().values() if h.cooling(now)]


def reset() -> None:
    _state.rows, _state.read_at = {}, float("-inf")
