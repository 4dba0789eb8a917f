"""The metering outbox: a usage record (with its settlement) that could not be written is
appended to a local spool file, fsynced, and written later — on a following call and at
start — exactly once (the usage record's request id is unique, and a replay first checks
whether an earlier attempt landed; see ``metering.persist``).

Draining never fails a call and never lets one entry hold up the others:

- a line that is not an entry (a torn write of a killed process, garbage) is moved to
  ``quarantine.jsonl`` and logged by its line number, never its content;
- an entry the database refuses for a reason retrying cannot fix (a constraint, bad data)
  is tried again on the next drains, then after ``PARK_AFTER`` refusals moved to
  ``parked.jsonl``: kept, logged, listed by ``flask usage outbox`` and ``/healthz``, and
  put back in the spool by ``flask usage outbox --retry`` once the cause is fixed;
- an entry that fails for a transient reason (the database unreachable, a lock) stays as it
  is; after ``STOP_AFTER`` such failures in a row the drain stops and everything waits.

What a hard kill can lose: nothing that was acknowledged. A reply is returned only after its
entry is in the database or in the spool; a process killed between the upstream's answer and
that point had not answered its caller yet, and the call's reservation expires and is
recorded as interrupted (``billing/interrupted.py``). The file mechanics that keep entries
safe between processes are in ``spool``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from webapp.models.base import utcnow
from webapp.services.llm import spool

log = logging.getLogger(__name__)

DIRECTORY = "metering-outbox"
PENDING = "outbox-*.jsonl"
PARKED = "parked.jsonl"
QUARANTINE = "quarantine.jsonl"
PARK_AFTER = 5  # refusals that retrying does not fix, before an entry is parked
# Transient failures in a row (unreachable, locked) that end a drain: the database is not
# taking writes, and each try may have waited for a timeout.
STOP_AFTER = 2
CHECK_EVERY_S = 5.0
_lock = threading.Lock()
_next_check = 0.0


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(f"cannot spool {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    if "$dec" in value:
        return Decimal(value["$dec"])
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    return value


def dumps(entry: dict[str, Any]) -> str:
    from webapp.services.billing.reservations import hold_to_json

    hold = entry["hold"]
    data = {"row": entry["row"], "hold": hold_to_json(hold) if hold is not None else None}
    return json.dumps(data, default=_encode, separators=(",", ":"))


def loads(line: str | bytes) -> dict[str, Any]:
    from webapp.services.billing.reservations import hold_from_json

    data = json.loads(line, object_hook=_decode)
    return {"row": data["row"], "hold": hold_from_json(data["hold"]) if data["hold"] else None}


def _directory() -> Path:
    path = Path(current_app.instance_path) / DIRECTORY
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def keep(entry: dict[str, Any]) -> None:
    """Append the entry to this process's spool file, durably, then try again soon."""
    global _next_check
    line = dumps(entry).encode()
    with _lock:
        spool.append(_directory() / f"outbox-{os.getpid()}.jsonl", [line])
        _next_check = 0.0


def drain_soon() -> None:
    """Cheap on the hot path: look at the spool at most every few seconds. Never raises: the
    call that triggers it has its reply and its record already."""
    global _next_check
    now = time.monotonic()
    if now < _next_check:
        return
    _next_check = now + CHECK_EVERY_S
    try:
        directory = Path(current_app.instance_path) / DIRECTORY
        if directory.is_dir() and any(directory.glob(PENDING)):
            drain()
    except Exception as exc:  # the type only: a message may quote the entry's values
        log.error("metering outbox: draining failed (%s); will try again", type(exc).__name__)


def transient(exc: BaseException) -> bool:
    """A failure that retrying the same entry later can fix: the database was unreachable,
    busy or locked (not a constraint or bad data)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout)


@dataclass
class _Pass:
    """What one drain did to one spool file."""

    landed: int = 0
    left: list[bytes] = field(default_factory=list)
    parked: list[bytes] = field(default_factory=list)
    bad: list[bytes] = field(default_factory=list)
    changed: bool = False
    failing: int = 0  # transient failures in a row
    stopped: bool = False  # the database is not taking writes: the rest waits for the next drain


def drain() -> int:
    """Write every spooled entry that the database takes now; keep the rest. Returns how
    many landed. Files another process is draining are skipped."""
    from webapp.services.llm import metering

    landed = 0
    with _lock:
        directory = _directory()
        for path in sorted(directory.glob(PENDING)):
            result = _drain_file(path, metering.persist)
            landed += result.landed
            if result.stopped:
                break
    if landed:
        log.info("metering outbox: %s entr%s written", landed, "y" if landed == 1 else "ies")
    return landed


def _drain_file(path: Path, persist: Callable[..., None]) -> _Pass:
    outcome = _Pass()
    with spool.locked(path) as fd:
        if fd is None:
            return outcome
        for number, line in enumerate(spool.read_lines(fd), 1):
            if not line.strip():
                outcome.changed = True
            elif outcome.stopped:
                outcome.left.append(line)
            else:
                _replay(path.name, number, line, persist, outcome)
        # Copied out before the spool is rewritten: a crash in between keeps both copies (a
        # replay is idempotent), never neither.
        if outcome.bad:
            spool.append(path.parent / QUARANTINE, outcome.bad)
        if outcome.parked:
            spool.append(path.parent / PARKED, outcome.parked)
        if outcome.changed:
            spool.rewrite(path, outcome.left)
    return outcome


def _replay(
    name: str, number: int, line: bytes, persist: Callable[..., None], outcome: _Pass
) -> None:
    """Write one spooled line; note in ``outcome`` what becomes of it."""
    try:
        data = json.loads(line)
        entry = loads(line)
    except Exception as exc:
        log.error(
            "metering outbox: line %s of %s is not a metering entry (%s); moved to %s",
            number,
            name,
            type(exc).__name__,
            QUARANTINE,
        )
        outcome.bad.append(line)
        outcome.changed = True
        return
    try:
        persist(entry, replay=True)
    except Exception as exc:
        if transient(exc):  # kept as it is; one entry stuck on a lock holds up no other
            outcome.left.append(line)
            outcome.failing += 1
            outcome.stopped = outcome.failing >= STOP_AFTER
            return
        outcome.changed = True
        _refused(data, type(exc).__name__, outcome)
        return
    outcome.landed += 1
    outcome.changed = True
    outcome.failing = 0


def _refused(data: dict[str, Any], failure: str, outcome: _Pass) -> None:
    """An entry the database refused for a reason retrying will not fix: counted, and parked
    after ``PARK_AFTER`` refusals so it stops costing every drain."""
    attempts = data.get("attempts")
    data["attempts"] = attempts + 1 if isinstance(attempts, int) else 1
    data["failure"] = failure
    request_id = str((data.get("row") or {}).get("request_id"))[:64]
    if data["attempts"] < PARK_AFTER:
        log.warning(
            "metering outbox: entry %s refused (%s), attempt %s of %s",
            request_id,
            failure,
            data["attempts"],
            PARK_AFTER,
        )
        outcome.left.append(json.dumps(data, separators=(",", ":")).encode())
        return
    data["parked_at"] = utcnow().isoformat()
    log.error(
        "metering outbox: entry %s refused %s times (%s); parked in %s — `flask usage outbox` "
        "lists it, `--retry` tries it again",
        request_id,
        data["attempts"],
        failure,
        PARKED,
    )
    outcome.parked.append(json.dumps(data, separators=(",", ":")).encode())


@dataclass(frozen=True)
class ParkedEntry:
    request_id: str
    attempts: int
    failure: str
    parked_at: str


@dataclass(frozen=True)
class OutboxState:
    """What this host's outbox holds (for ``flask usage outbox`` and ``/healthz``)."""

    pending: int
    parked: tuple[ParkedEntry, ...]
    quarantined: int

    @property
    def empty(self) -> bool:
        return not (self.pending or self.parked or self.quarantined)


def state() -> OutboxState:
    directory = Path(current_app.instance_path) / DIRECTORY
    if not directory.is_dir():
        return OutboxState(0, (), 0)
    pending = sum(spool.count_lines(path) for path in directory.glob(PENDING))
    return OutboxState(pending, _parked(directory), spool.count_lines(directory / QUARANTINE))


def _parked(directory: Path) -> tuple[ParkedEntry, ...]:
    try:
        lines = (directory / PARKED).read_bytes().splitlines()
    except FileNotFoundError:
        return ()
    found = []
    for line in lines:
        try:
            data = json.loads(line)
            request_id = data["row"]["request_id"]
            attempts = int(data.get("attempts") or 0)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # parked by hand? it stays, and is put back by --retry as it is
        found.append(
            ParkedEntry(
                str(request_id)[:64],
                attempts,
                str(data.get("failure") or "")[:64],
                str(data.get("parked_at") or "")[:40],
            )
        )
    return tuple(found)


def retry_parked() -> int:
    """Put the parked entries back in the spool with a fresh count (once their cause is
    fixed); how many. Drain afterwards to write them."""
    with _lock:
        directory = _directory()
        path = directory / PARKED
        with spool.locked(path) as fd:
            if fd is None:
                return 0
            fresh = [_unparked(line) for line in spool.read_lines(fd) if line.strip()]
            if fresh:
                spool.append(directory / f"outbox-{os.getpid()}.jsonl", fresh)
            spool.rewrite(path, [])
    return len(fresh)


def _unparked(line: bytes) -> bytes:
    """The parked line as a fresh spool entry (one that is not JSON goes back as it is, and
    the drain quarantines it)."""
    try:
        data = json.loads(line)
        for key in ("attempts", "failure", "parked_at"):
            data.pop(key, None)
    except (ValueError, TypeError, AttributeError):
        return line
    return json.dumps(data, separators=(",", ":")).encode()
