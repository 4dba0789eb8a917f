"""Several keys for one provider at one scope are a pool: calls take them in turn, and a key
the provider just rate-limited goes to the back.

The state is per process and needs no coordination: a key rate-limited here is tried last
here. A key the provider rejected (401) is marked invalid in the database for everyone and
is not in the pool at all until it is edited or tested again (``resolution._usable``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from typing import Protocol, TypeVar


class PoolKey(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=PoolKey)
RATE_LIMIT_MEMORY_S = 60.0  # a 429 counts against a key for this long
_lock = threading.Lock()
_rate_limited: dict[int, float] = {}
_turns: dict[tuple[str, int], itertools.count[int]] = {}


def note_rate_limited(credential_id: int | None) -> None:
    if credential_id is not None:
        _rate_limited[credential_id] = time.monotonic()


def _recently_limited(credential_id: int, now: float) -> float:
    at = _rate_limited.get(credential_id)
    return at if at is not None and now - at < RATE_LIMIT_MEMORY_S else float("-inf")


def in_turn(credentials: Sequence[T], owner_key: str, provider_id: int) -> list[T]:
    """The pool in the order to try it: round robin, the recently rate-limited last."""
    if len(credentials) < 2:
        return list(credentials)
    with _lock:
        turn = next(_turns.setdefault((owner_key, provider_id), itertools.count()))
    start = turn % len(credentials)
    rotated = list(credentials[start:]) + list(credentials[:start])
    now = time.monotonic()
    return sorted(rotated, key=lambda c: _recently_limited(c.id, now))


def clear() -> None:
    with _lock:
        _rate_limited.clear()
        _turns.clear()
