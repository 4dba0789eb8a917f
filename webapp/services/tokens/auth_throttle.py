"""Failed access-token authentications per client address: many bad tokens from one address
in a minute and that address is refused (429 with ``Retry-After``) for the rest of it.

Access tokens are long random secrets, so this is not about guessing one: it keeps a
misconfigured job or a scanner from making the API look up junk tokens without end, and
makes such a flood visible in the logs. The count belongs to the address only, like the
sign-in form's per-address limit; a valid token never adds to it.

Counters live in Flask-Limiter's storage, as the sign-in throttle's and the API's rate
limits do: Redis when ``REDIS_URL`` is set, so every worker sees the same counts, else the
memory of one process. Windows are fixed calendar minutes of the gateway's clock (the key
names the minute), so a failure costs one ``INCR``.

A valid token costs nothing here: the storage is only written and read when a token is
refused. Which addresses must wait is kept per process as well (the end of their minute):
the management API refuses such an address before looking its token up, after at most one
more refusal per process (the one whose ``INCR`` tells that process about the block).
"""

from __future__ import annotations

import logging
import math
import threading

from flask import current_app

from webapp.extensions import limiter
from webapp.gateway import rate_limits as gateway_limits

log = logging.getLogger(__name__)

# Refusals that a presented token earns (a missing token or a token of the wrong scope is a
# client's mistake about the route, not a bad secret).
COUNTED = frozenset({"invalid", "revoked", "expired", "owner_inactive"})
MEMO_MAX = 10_000  # a flood from many addresses cannot grow memory without bound

_lock = threading.Lock()
_waiting: dict[str, float] = {}  # address → end of the minute it waits out (clock seconds)


def clear() -> None:
    """Forget which addresses wait (tests; the counters are in the limiter's storage)."""
    with _lock:
        _waiting.clear()


def _limit() -> int | None:
    return current_app.config.get("API_AUTH_FAILURES_PER_MINUTE")


def _window() -> tuple[int, float]:
    """The current minute and the seconds left in it."""
    now = gateway_limits.clock()
    window = gateway_limits.WINDOW_S
    return int(now // window), window - now % window


def _key(address: str, minute: int) -> str:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "switchboard"
    return f"{prefix}/token-auth/failures/{address}/{minute}"


def _retry_after(reset: float) -> int:
    return max(1, math.ceil(reset))


def wait_seconds(address: str) -> int:
    """Seconds until ``address`` may present a token again (0: now), as this process knows
    it: a dictionary lookup, no storage round trip."""
    until = _waiting.get(address)
    if until is None:
        return 0
    now = gateway_limits.clock()
    if now >= until or not _limit():
        with _lock:
            _waiting.pop(address, None)
        return 0
    return _retry_after(until - now)


def record_failure(address: str, reason: str) -> int:
    """Count a refused token from ``address``; the seconds it must now wait (0: none)."""
    limit = _limit()
    if not limit or reason not in COUNTED:
        return 0
    minute, reset = _window()
    failures = limiter.storage.incr(_key(address, minute), gateway_limits.WINDOW_S * 2)
    if failures < limit:
        return 0
    with _lock:
        if len(_waiting) >= MEMO_MAX:
            _waiting.clear()
        _waiting[address] = (minute + 1) * gateway_limits.WINDOW_S
    if failures == limit:
        log.warning(
            "%d refused access tokens from %s this minute: refusing it for %d s",
            failures,
            address,
            _retry_after(reset),
        )
    return _retry_after(reset)
