"""Requests and tokens per minute, per token, per user and per org.

Counters live in Flask-Limiter's storage, as the sign-in throttle's do: Redis when
``REDIS_URL`` is set (every process shares them), else this process's memory. Windows are
fixed calendar minutes (the key names the minute), so the reset time needs no round trip:
a request costs one ``INCR`` per limited scope for requests, one ``GET`` per scope with a
token limit, and after the call one ``INCRBY`` per such scope with the tokens it metered.
With Redis all of it is one script call (one round trip) per request: a call's tokens travel
with the next admission's call (or a background flush within a second, see ``_Unsent``).

A token's limits are on the token; users' and orgs' come from the configuration
(``SWITCHBOARD_GATEWAY_USER_RPM`` …; unset means none).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from limits.storage import RedisStorage

from webapp.extensions import limiter
from webapp.services.tokens.auth import TokenIdentity

WINDOW_S = 60
clock = time.time  # the windows' clock (tests hold it inside one minute)


@dataclass(frozen=True)
class Scope:
    name: str  # token | user | org
    ident: int
    rpm: int | None
    tpm: int | None


@dataclass
class Budget:
    """What the reply's ``x-ratelimit-*`` headers say: the tightest scope of each kind."""

    scopes: list[Scope]
    minute: int
    reset_s: float
    requests: tuple[int, int] | None = None  # (limit, remaining)
    tokens: tuple[int, int] | None = None

    def headers(self) -> dict[str, str]:
        reset = f"{max(0.0, self.reset_s):.0f}s"
        out = {}
        if self.requests is not None:
            out["x-ratelimit-limit-requests"] = str(self.requests[0])
            out["x-ratelimit-remaining-requests"] = str(max(0, self.requests[1]))
            out["x-ratelimit-reset-requests"] = reset
        if self.tokens is not None:
            out["x-ratelimit-limit-tokens"] = str(self.tokens[0])
            out["x-ratelimit-remaining-tokens"] = str(max(0, self.tokens[1]))
            out["x-ratelimit-reset-tokens"] = reset
        return out


log = logging.getLogger(__name__)


class LimitsUnavailable(Exception):
    """The counters cannot be read (Redis is down or out of connections)."""


class RateLimitHit(Exception):
    def __init__(self, message: str, retry_after: int, budget: Budget) -> None:
        super().__init__(message)
        self.message, self.retry_after, self.budget = message, retry_after, budget


def scopes_for(identity: TokenIdentity) -> list[Scope]:
    config = current_app.config
    scopes = []
    if identity.requests_per_minute or identity.tokens_per_minute:
        scopes.append(
            Scope("token", identity.id, identity.requests_per_minute, identity.tokens_per_minute)
        )
    if identity.user_id is not None and (config["GATEWAY_USER_RPM"] or config["GATEWAY_USER_TPM"]):
        scopes.append(
            Scope("user", identity.user_id, config["GATEWAY_USER_RPM"], config["GATEWAY_USER_TPM"])
        )
    if identity.org_id is not None and (config["GATEWAY_ORG_RPM"] or config["GATEWAY_ORG_TPM"]):
        scopes.append(
            Scope("org", identity.org_id, config["GATEWAY_ORG_RPM"], config["GATEWAY_ORG_TPM"])
        )
    return scopes


def _key(kind: str, scope: Scope, minute: int) -> str:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "switchboard"
    return f"{prefix}/gateway/{kind}/{scope.name}/{scope.ident}/{minute}"


def _tighter(current: tuple[int, int] | None, limit: int, remaining: int) -> tuple[int, int]:
    if current is None or remaining < current[1]:
        return (limit, remaining)
    return current


def admit(identity: TokenIdentity) -> Budget:
    """Count this request against every scope's limits; RateLimitHit when one is spent."""
    now = clock()
    minute = int(now // WINDOW_S)
    budget = Budget(scopes_for(identity), minute, WINDOW_S - now % WINDOW_S)
    if not budget.scopes:
        return budget
    try:
        hit = _count_request(budget, limiter.storage, minute)
    except Exception as exc:  # the shared counter store (Redis) failed: refuse, never guess
        log.error("rate limits could not be checked (%s)", type(exc).__name__)
        raise LimitsUnavailable() from None
    if hit is not None:
        wait = max(1, math.ceil(budget.reset_s))
        raise RateLimitHit(f"Rate limit reached: the {hit}. Retry in {wait} s.", wait, budget)
    return budget


def _count_request(budget: Budget, storage: Any, minute: int) -> str | None:
    """Count the request in every scope; the first limit it goes over, if any."""
    reads = _Counters(storage)
    for scope in budget.scopes:
        if scope.tpm:
            reads.get(_key("tokens", scope, minute))
        if scope.rpm:
            reads.incr(_key("requests", scope, minute))
    values = iter(reads.run())
    hit: str | None = None
    for scope in budget.scopes:
        if scope.tpm:
            used = next(values)
            budget.tokens = _tighter(budget.tokens, scope.tpm, scope.tpm - used)
            if used >= scope.tpm and hit is None:
                hit = f"tokens per minute of this {scope.name} ({scope.tpm})"
        if scope.rpm:
            count = next(values)
            budget.requests = _tighter(budget.requests, scope.rpm, scope.rpm - count)
            if count > scope.rpm and hit is None:
                hit = f"requests per minute of this {scope.name} ({scope.rpm})"
    return hit


# One round trip for all of a request's counters: every key is read (empty amount) or
# increased (INCRBY), and a key an increase creates gets its expiry; replies in key order.
# Atomic, so an expiry is never lost between the INCRBY and the EXPIRE.
COUNT_SCRIPT = """
local replies = {}
for i, key in ipairs(KEYS) do
  local amount = ARGV[i + 1]
  if amount == "" then
    replies[i] = tonumber(redis.call("GET", key) or "0")
  else
    local value = redis.call("INCRBY", key, amount)
    if value == tonumber(amount) then redis.call("EXPIRE", key, ARGV[1]) end
    replies[i] = value
  end
end
return replies
"""


class _Counters:
    """Reads and increments of counters, sent to Redis as one script call (one round trip
    and one reply for all of a request's scopes, with the tokens of earlier calls still to
    be added, see ``_Unsent``); Flask-Limiter's own storage calls, one by one, elsewhere."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.redis = type(storage) is RedisStorage
        self.steps: list[tuple[str, str, int]] = []

    def get(self, key: str) -> None:
        self.steps.append(("get", key, 0))

    def incr(self, key: str, amount: int = 1) -> None:
        self.steps.append(("incr", key, amount))

    def run(self) -> list[int]:
        """Every step's value: the counter read, or the counter after the increment."""
        if not self.redis:
            return [
                int(self.storage.get(key) or 0)
                if op == "get"
                else self.storage.incr(key, WINDOW_S * 2, amount=amount)
                for op, key, amount in self.steps
            ]
        unsent = _unsent.take()
        keys = list(unsent)  # first: this request's reads include them
        amounts: list[int | str] = list(unsent.values())
        for op, key, amount in self.steps:
            keys.append(self.storage.prefixed_key(key))
            amounts.append("" if op == "get" else amount)
        try:
            replies = _run_script(self.storage.get_connection(), keys, amounts)
        except Exception:
            _unsent.give_back(unsent, self.storage)
            raise
        return [int(value) for value in replies[len(unsent) :]]


_script: tuple[Any, Any] | None = None  # (client, its registered COUNT_SCRIPT)


def _run_script(client: Any, keys: list[str], amounts: list[int | str]) -> list[int]:
    """Run ``COUNT_SCRIPT`` (by its digest: Redis keeps the source after the first call).
    Each minute has its own key: it only has to outlive its minute."""
    global _script
    if _script is None or _script[0] is not client:
        _script = (client, client.register_script(COUNT_SCRIPT))
    return list(_script[1](keys=keys, args=[WINDOW_S * 2, *amounts]))


class _Unsent:
    """Tokens of finished calls not yet added to Redis (per key). A call's tokens need no
    round trip of their own: they go with this process's next admission's script call, read
    after they are added, or within ``FLUSH_S`` (a background thread) when no request
    comes; other processes see them that late at most. Lost only if the process is killed
    in between (a second of one process's tokens, never a charge: money is metered apart)."""

    FLUSH_S = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._amounts: dict[str, int] = {}
        self._storage: Any = None
        self._flusher: threading.Thread | None = None

    def add(self, storage: Any, keys: list[str], amount: int) -> None:
        with self._lock:
            self._storage = storage
            for key in keys:
                self._amounts[key] = self._amounts.get(key, 0) + amount
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(
                    target=self._flush_soon, name="switchboard-tpm-flush", daemon=True
                )
                self._flusher.start()

    def take(self) -> dict[str, int]:
        with self._lock:
            amounts, self._amounts = self._amounts, {}
        return amounts

    def give_back(self, amounts: dict[str, int], storage: Any) -> None:
        """A flush that failed: kept for the next one (Redis may be back by then)."""
        with self._lock:
            self._storage = storage
            for key, amount in amounts.items():
                self._amounts[key] = self._amounts.get(key, 0) + amount

    def _flush_soon(self) -> None:
        while True:
            time.sleep(self.FLUSH_S)
            amounts = self.take()
            if not amounts:
                with self._lock:  # nothing came meanwhile: the thread ends
                    if not self._amounts:
                        self._flusher = None
                        return
                continue
            storage = self._storage
            try:
                _run_script(storage.get_connection(), list(amounts), list(amounts.values()))
            except Exception as exc:
                log.error("tokens could not be counted (%s); retrying", type(exc).__name__)
                self.give_back(amounts, storage)


_unsent = _Unsent()


def count_tokens(budget: Budget, tokens: int) -> None:
    """Add a finished call's metered tokens to every scope with a token limit."""
    if tokens <= 0:
        return
    limited = [scope for scope in budget.scopes if scope.tpm]
    if not limited:
        return
    storage = limiter.storage
    keys = [_key("tokens", scope, budget.minute) for scope in limited]
    if type(storage) is RedisStorage:
        _unsent.add(storage, [storage.prefixed_key(key) for key in keys], tokens)
        if budget.tokens is not None:  # as read at admission, plus this call's
            limit, remaining = budget.tokens
            budget.tokens = (limit, remaining - tokens)
        return
    counters = _Counters(storage)
    for key in keys:
        counters.incr(key, tokens)
    try:
        totals = counters.run()
    except Exception as exc:  # the reply went out already: it is not failed for this
        log.error("tokens could not be counted (%s)", type(exc).__name__)
        return
    for scope, used in zip(limited, totals, strict=True):
        if budget.tokens is not None and scope.tpm:
            budget.tokens = _tighter(budget.tokens, scope.tpm, scope.tpm - used)
