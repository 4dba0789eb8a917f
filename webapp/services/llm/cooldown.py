"""Provider cooldown: a model that keeps failing is given a rest, and so is its provider
when the failures are the provider's rather than one model's.

Counting. Outages and timeouts are counted per (provider, model) and per provider, each with
one atomic upsert (``failures = failures + 1 … RETURNING``), so concurrent failures in any
number of processes are all counted. ``FAILURES`` within ``WINDOW_S`` seconds cool the model
down for ``COOLDOWN_S``: calls skip it and go straight to their fallback models (another
model of the same provider included), or fail fast when there is none.

The whole provider cools down only when its failures are the provider's: ``FAILURES``
within the window that span at least two of its models, or a provider that cannot be
reached at all (connection refused, DNS, TLS: ``Unreachable``, whatever the model). One
model's outage, rate limits, and bad requests never cool the provider.

Probing. When a rest is over, one call — the one that wins a compare-and-set on
``cooldown_until`` (``UPDATE … WHERE cooldown_until <= now``), which moves it ``PROBE_S``
ahead — is the probe; every other call keeps skipping it meanwhile. A success deletes the
rows (restored); a failure of anything cooled and not yet restored cools it again at once.

The state lives in the database (``provider_health``), so every process sees it; each
process re-reads it at most once a second. Writes happen only on failures, on a probe's
claim and on the first success after them.

Configuration: ``SWITCHBOARD_COOLDOWN_FAILURES`` (5), ``SWITCHBOARD_COOLDOWN_WINDOW_S`` (60),
``SWITCHBOARD_COOLDOWN_S`` (60), ``SWITCHBOARD_COOLDOWN_PROBE_S`` (30).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from webapp.models import ProviderHealth
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.errors import LLMError
from webapp.services.llm.errors import Unavailable, Unreachable

log = logging.getLogger(__name__)
HEALTH = ProviderHealth.__table__
COUNTED = ("unavailable", "timeout")  # outages; rate limits are per key (see pools)
REFRESH_S = 1.0
PROVIDER = ""  # model_key of the provider-wide row
SPANNING_MODELS = 2  # failing models that make a provider's failures its own


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


def _keys(model: ModelInfo) -> tuple[tuple[int, str], tuple[int, str]]:
    return (model.provider_id, model.model_id), (model.provider_id, PROVIDER)


def check(model: ModelInfo) -> None:
    """Unavailable while the model or its provider cools down. When a rest is over, this
    call probes it if it wins the claim; otherwise it waits for the probe like the rest."""
    rows = _state.current()
    if not rows:
        return
    now = utcnow()
    for key in _keys(model):
        health = rows.get(key)
        if health is None or health.cooldown_until is None:
            continue
        if not health.cooling(now) and _claim_probe(key, now):
            continue
        what = model.provider_name if key[1] == PROVIDER else model.global_id
        claimed = not health.cooling(now)
        until = health.cooldown_until
        raise Unavailable(
            f"{what} is cooling down after repeated failures ({health.reason}); "
            + (
                "another call is trying it now."
                if claimed
                else f"it is tried again after {until:%H:%M:%S} UTC."
            )
            + " Configure a fallback model to keep calls going meanwhile."
        )


def _claim_probe(key: tuple[int, str], now: datetime) -> bool:
    """Compare-and-set: the one call that moves an ended rest ``PROBE_S`` ahead probes it."""
    probe = timedelta(seconds=_setting("COOLDOWN_PROBE_S", 30))
    try:
        with side_writes.own_transaction(single_statements=True) as connection:
            claimed = connection.execute(
                sa.update(HEALTH)
                .where(
                    HEALTH.c.provider_id == key[0],
                    HEALTH.c.model_key == key[1],
                    HEALTH.c.cooldown_until <= now,
                )
                .values(cooldown_until=now + probe, updated_at=now)
            ).rowcount
    except Exception:  # bookkeeping: when in doubt, let the call through as before
        log.exception("could not claim the probe of %s", key)
        return True
    _state.read_at = float("-inf")
    if claimed:
        log.info("probing %s/%s after its rest", *key)
    return claimed == 1


def failed(model: ModelInfo, error: LLMError) -> None:
    """Count an outage or timeout against the model and its provider (see the module)."""
    if error.error_type not in COUNTED:
        return
    now = utcnow()
    reason = f"{error.error_type}" + (f" {error.http_status}" if error.http_status else "")
    if isinstance(error, Unreachable):
        reason = "unreachable"
    try:
        with side_writes.own_transaction() as connection:
            _count(connection, model.provider_id, model.model_id, now, reason, model_row=True)
            provider = _count(connection, model.provider_id, PROVIDER, now, reason)
            _maybe_cool_provider(connection, model, provider, now, reason, error)
    except Exception:  # bookkeeping must never turn one failure into another
        log.exception("could not record a failure of %s", model.global_id)
    _state.read_at = float("-inf")


def _when(value: datetime) -> Any:
    """A time bound as the table stores it (naive UTC), wherever it appears in a statement."""
    return sa.literal(value, HEALTH.c.cooldown_until.type)


def _count(
    connection: Connection,
    provider_id: int,
    key: str,
    now: datetime,
    reason: str,
    *,
    model_row: bool = False,
) -> Any:
    """One failure more, in one statement: a window older than ``WINDOW_S`` starts again at
    1 (unless the row is cooled and not yet restored: its count goes on). A model row cools
    at ``FAILURES``; anything cooled and not yet restored cools again at once. Returns the
    row as it is now."""
    window = timedelta(seconds=_setting("COOLDOWN_WINDOW_S", 60))
    threshold = int(_setting("COOLDOWN_FAILURES", 5))
    rest = now + timedelta(seconds=_setting("COOLDOWN_S", 60))
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(HEALTH).values(
        provider_id=provider_id,
        model_key=key,
        failures=1,
        window_started_at=now,
        cooldown_until=rest if model_row and threshold <= 1 else None,
        reason=reason,
        updated_at=now,
    )
    suspect = HEALTH.c.cooldown_until.is_not(None)
    restart = sa.and_(
        sa.or_(
            HEALTH.c.window_started_at.is_(None),
            HEALTH.c.window_started_at < _when(now - window),
        ),
        sa.not_(suspect),
    )
    failures = sa.case((restart, 1), else_=HEALTH.c.failures + 1)
    cool = sa.or_(suspect, failures >= threshold) if model_row else suspect
    statement = insert.on_conflict_do_update(
        index_elements=[HEALTH.c.provider_id, HEALTH.c.model_key],
        set_={
            "failures": failures,
            "window_started_at": sa.case((restart, _when(now)), else_=HEALTH.c.window_started_at),
            "cooldown_until": sa.case((cool, _when(rest)), else_=HEALTH.c.cooldown_until),
            "reason": reason,
            "updated_at": _when(now),
        },
    ).returning(HEALTH.c.failures, HEALTH.c.cooldown_until)
    row = connection.execute(statement).one()
    if row.cooldown_until is not None and row.cooldown_until >= rest:
        log.warning("%s/%s cools down until %s (%s)", provider_id, key or "*", rest, reason)
    return row


def _maybe_cool_provider(
    connection: Connection,
    model: ModelInfo,
    provider: Any,
    now: datetime,
    reason: str,
    error: LLMError,
) -> None:
    """Cool the whole provider when its failures are its own: ``FAILURES`` in the window
    over at least two models, or a provider that could not be reached at all."""
    if provider.cooldown_until is not None and provider.cooldown_until > now:
        return
    threshold = int(_setting("COOLDOWN_FAILURES", 5))
    if provider.failures < threshold:
        return
    if not isinstance(error, Unreachable):
        since = now - timedelta(seconds=_setting("COOLDOWN_WINDOW_S", 60))
        models = connection.execute(
            sa.select(sa.func.count())
            .select_from(HEALTH)
            .where(
                HEALTH.c.provider_id == model.provider_id,
                HEALTH.c.model_key != PROVIDER,
                sa.or_(HEALTH.c.window_started_at >= since, HEALTH.c.cooldown_until.is_not(None)),
            )
        ).scalar_one()
        if models < SPANNING_MODELS:
            return  # one model's trouble: that model rests, its siblings still serve
        reason = f"{reason} on {models} models"
    rest = now + timedelta(seconds=_setting("COOLDOWN_S", 60))
    connection.execute(
        sa.update(HEALTH)
        .where(HEALTH.c.provider_id == model.provider_id, HEALTH.c.model_key == PROVIDER)
        .values(cooldown_until=rest, reason=reason, updated_at=now)
    )
    log.warning("%s cools down until %s (%s)", model.provider_slug, rest, reason)


def succeeded(model: ModelInfo) -> None:
    """A call worked: forget the failures (one write, only if there were any)."""
    rows = _state.current()
    keys = [k for k in _keys(model) if k in rows]
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
