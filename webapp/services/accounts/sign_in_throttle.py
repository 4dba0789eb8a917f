"""Growing delays after failed sign-ins, counted per account *and* address.

A hard per-account limit lets anyone lock a colleague out by typing wrong passwords for them;
here the count belongs to the pair, so a stranger's failures slow only the stranger. After
``FREE_FAILURES`` failures in a row the pair waits 2, 4, 8 … seconds (at most 15 minutes)
before the next attempt, during which the password is not even checked. The per-address rate
limit (Flask-Limiter, on the route) still caps guesses across accounts.

Every place that checks a password goes through :func:`checked` — the sign-in form, the
password prompt before dangerous actions and the current password of a password change —
with one count per pair for all of them, so a session cannot guess at one while another
waits.

Counters live in Flask-Limiter's storage: Redis when ``REDIS_URL`` is set, so every worker
sees the same counts, else the memory of one process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from limits.storage import Storage

from webapp.extensions import limiter
from webapp.services.errors import ServiceError

T = TypeVar("T")

log = logging.getLogger(__name__)

FREE_FAILURES = 5
MAX_DELAY = 15 * 60
FORGET_AFTER = 24 * 3600  # a run of failures is forgotten a day after it started


class TooManyAttempts(ServiceError):
    """The pair must wait ``wait`` seconds: the password was not checked (HTTP 429)."""

    status_code = 429

    def __init__(self, wait: int) -> None:
        super().__init__(
            f"Too many failed attempts for this account from your address. Try again in {wait} s."
        )
        self.wait = wait


def delay_after(failures: int) -> int:
    """Seconds to wait after ``failures`` failures in a row: none for the first few, then
    doubling up to ``MAX_DELAY``."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES + 1), MAX_DELAY)


def _storage() -> Storage:
    return limiter.storage


def _keys(email: str, address: str) -> tuple[str, str]:
    """Storage keys for the pair; hashed, so no raw email sits in Redis or breaks a key."""
    pair = f"{email.strip().lower()}|{address}".encode()
    digest = hashlib.sha256(pair).hexdigest()[:32]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "switchboard"
    return f"{prefix}/sign-in/failures/{digest}", f"{prefix}/sign-in/wait/{digest}"


def wait_seconds(email: str, address: str, what: str = "sign-in") -> int:
    """Seconds this account must wait before another attempt from this address (0: none);
    an attempt made while waiting is logged as refused."""
    _, wait_key = _keys(email, address)
    storage = _storage()
    if storage.get(wait_key) <= 0:
        return 0
    wait = max(1, math.ceil(storage.get_expiry(wait_key) - time.time()))
    log.warning(
        "%s for account %r from %s refused unchecked: %d s left to wait",
        what,
        email.strip().lower(),
        address,
        wait,
    )
    return wait


def record_failure(email: str, address: str, what: str = "sign-in") -> int:
    """Count a failed attempt, log it (never the password) and return the delay it starts."""
    failures_key, wait_key = _keys(email, address)
    storage = _storage()
    failures = storage.incr(failures_key, FORGET_AFTER)
    delay = delay_after(failures)
    if delay:
        storage.incr(wait_key, delay)
    log.warning(
        "failed %s for account %r from %s (%d in a row%s)",
        what,
        email.strip().lower(),
        address,
        failures,
        f"; next attempt in {delay} s" if delay else "",
    )
    return delay


def record_success(email: str, address: str) -> None:
    """A correct password ends the run of failures for the pair."""
    for key in _keys(email, address):
        _storage().clear(key)


def checked(email: str, address: str, verify: Callable[[], T | None], *, what: str) -> T | None:
    """``verify()`` — a password check returning what it proved, or None — unless the pair
    must wait (TooManyAttempts, nothing checked). A failure is counted and logged at WARNING
    with the account, the address and ``what`` was attempted; a success ends the run."""
    if wait := wait_seconds(email, address, what):
        raise TooManyAttempts(wait)
    result = verify()
    if result is None:
        record_failure(email, address, what)
    else:
        record_success(email, address)
    return result
