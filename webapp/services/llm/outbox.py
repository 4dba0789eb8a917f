"""The metering outbox: a usage record (with its settlement) that could not be written is
appended to a local spool file, fsynced, and written later — on a following call and at
start — exactly once (the usage record's request id is unique, and a replay first checks
whether an earlier attempt landed).

What a hard kill can lose: nothing that was acknowledged. A reply is returned only after its
entry is in the database or in the spool; a process killed between the upstream's answer and
that point had not answered its caller yet, and the call's reservation expires and is
recorded as interrupted (``billing/interrupted.py``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

DIRECTORY = "metering-outbox"
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


def loads(line: str) -> dict[str, Any]:
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
    line = dumps(entry) + "\n"
    path = _directory() / f"outbox-{os.getpid()}.jsonl"
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        _next_check = 0.0


def drain_soon() -> None:
    """Cheap on the hot path: look at the spool at most every few seconds."""
    global _next_check
    now = time.monotonic()
    if now < _next_check:
        return
    _next_check = now + CHECK_EVERY_S
    directory = Path(current_app.instance_path) / DIRECTORY
    if directory.is_dir() and any(directory.glob("outbox-*.jsonl")):
        drain()


def drain() -> int:
    """Write every spooled entry that the database takes now; keep the rest. Returns how
    many landed. Files another process is draining are skipped."""
    from webapp.services.llm.metering import persist

    landed = 0
    with _lock:
        for path in sorted(_directory().glob("outbox-*.jsonl")):
            landed += _drain_file(path, persist)
    if landed:
        log.info("metering outbox: %s entr%s written", landed, "y" if landed == 1 else "ies")
    return landed


def _drain_file(path: Path, persist: Any) -> int:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        with os.fdopen(os.dup(fd), "r", encoding="utf-8") as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()]
        left, landed = [], 0
        for line in lines:
            try:
                persist(loads(line), replay=True)
                landed += 1
            except SQLAlchemyError:
                left.append(line)
        if left:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, ("\n".join(left) + "\n").encode())
            os.fsync(fd)
        else:
            path.unlink(missing_ok=True)
        return landed
    finally:
        os.close(fd)
