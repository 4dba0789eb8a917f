"""The application's health, for /healthz, the maintenance gate and the admin banner.

Answers are cached per process: the schema state for a few seconds (pages consult it on
every request, so it must never cost a query per request), the encryption key check for
a minute (it is run at start; keys only change with a restart) and this host's metering
outbox for ten seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from webapp.services.credentials.key_check import KeyCheck, check_encryption_keys
from webapp.services.system.schema import SchemaState, read_schema_state

if TYPE_CHECKING:
    from webapp.services.llm.outbox import OutboxState

SCHEMA_CHECK_SECONDS = 5.0
KEY_CHECK_SECONDS = 60.0
OUTBOX_CHECK_SECONDS = 10.0
EXTENSION = "switchboard.health"
T = TypeVar("T")


class Cached(Generic[T]):
    """A value loaded again at most every ``ttl`` seconds."""

    def __init__(
        self, load: Callable[[], T], ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._load, self._ttl, self._clock = load, ttl, clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded_at = float("-inf")

    def get(self, *, fresh: bool = False) -> T:
        with self._lock:
            now = self._clock()
            if fresh or self._value is None or now - self._loaded_at >= self._ttl:
                self._value, self._loaded_at = self._load(), now
            return self._value

    def peek(self) -> T | None:
        """The last value loaded, without ever loading (for code that must not query)."""
        return self._value

    def put(self, value: T) -> None:
        with self._lock:
            self._value, self._loaded_at = value, self._clock()


class Health:
    """Per-application caches of the two start-up checks."""

    def __init__(self) -> None:
        self.schema: Cached[SchemaState] = Cached(read_schema_state, SCHEMA_CHECK_SECONDS)
        self.keys: Cached[KeyCheck] = Cached(check_encryption_keys, KEY_CHECK_SECONDS)
        # Read from files that can grow large while the database is down: not on every poll.
        self.outbox: Cached[OutboxState | None] = Cached(_outbox_state, OUTBOX_CHECK_SECONDS)


def health() -> Health:
    checks = current_app.extensions.get(EXTENSION)
    if checks is None:
        checks = current_app.extensions[EXTENSION] = Health()
    return checks


@dataclass(frozen=True)
class HealthReport:
    schema: SchemaState
    keys: KeyCheck | None  # None: not checked (the schema is not usable)
    cooling: tuple[str, ...] = ()  # providers and models resting after repeated failures
    outbox: OutboxState | None = None  # this host's metering entries not written yet

    @property
    def ok(self) -> bool:
        return self.schema.current and self.keys is not None and self.keys.ok

    def as_json(self) -> dict[str, Any]:
        reachable = self.schema.status != "unreachable"
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "unavailable",
            "database": "ok" if reachable else "unreachable",
            "schema": self.schema.status if reachable else "unknown",
            "encryption_keys": "unchecked" if self.keys is None else _keys_status(self.keys),
        }
        details = [] if self.schema.current else [self.schema.describe()]
        details += [problem.describe() for problem in (self.keys.problems if self.keys else ())]
        if details:
            body["details"] = details
        if self.cooling:  # information, not ill health: calls go to fallbacks meanwhile
            body["cooling_down"] = list(self.cooling)
        if self.outbox is not None and not self.outbox.empty:  # for an admin to look at
            body["metering_outbox"] = {
                "pending": self.outbox.pending,
                "parked": len(self.outbox.parked),
                "quarantined": self.outbox.quarantined,
            }
        return body


def _outbox_state() -> OutboxState | None:
    """This host's metering outbox (files, no query); None when it cannot be read."""
    from webapp.services.llm import outbox

    try:
        return outbox.state()
    except OSError:
        return None


def _keys_status(keys: KeyCheck) -> str:
    if keys.ok:
        return "ok"
    return "missing" if any(p.missing for p in keys.problems) else "wrong_key"


def health_report() -> HealthReport:
    """Both checks, the schema read fresh (for load balancers and operators)."""
    checks = health()
    schema = checks.schema.get(fresh=True)
    spooled = checks.outbox.get()
    if not schema.current:
        return HealthReport(schema, None, outbox=spooled)
    try:
        keys = checks.keys.get()
        cooling = _cooling()
    except SQLAlchemyError:
        return HealthReport(SchemaState("unreachable", (), schema.expected), None, outbox=spooled)
    return HealthReport(schema, keys, cooling, spooled)


def _cooling() -> tuple[str, ...]:
    from webapp.extensions import db
    from webapp.models import Provider
    from webapp.services.llm import cooldown

    rows = cooldown.cooling_down()
    if not rows:
        return ()
    slugs = {pid: slug for pid, slug in db.session.execute(db.select(Provider.id, Provider.slug))}
    return tuple(
        f"{slugs.get(h.provider_id, h.provider_id)}/{h.model_key or '*'} until "
        f"{h.cooldown_until:%Y-%m-%dT%H:%M:%SZ} ({h.reason})"
        for h in rows
    )


def key_problems() -> list[str]:
    """What the admin banner says about encryption keys (the cached check, refreshed at most
    once a minute; nothing while the database cannot answer)."""
    try:
        if not health().schema.get().current:
            return []
        return [problem.describe() for problem in health().keys.get().problems]
    except SQLAlchemyError:
        return []
