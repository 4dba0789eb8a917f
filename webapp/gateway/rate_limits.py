"""Requests and tokens per minute, per token, per user and per org.

Counters live in Flask-Limiter's storage, as the sign-in throttle's do: Redis when
``REDIS_URL`` is set (every process shares them), else this process's memory. Windows are
fixed calendar minutes (the key names the minute), so the reset time needs no round trip:
a request costs one ``INCR`` per limited scope for requests, one ``GET`` per scope with a
token limit, and after the call one ``INCRBY`` per such scope with the tokens it metered —
with Redis, one pipelined round trip before the call and one after.

A token's limits are on the token; users' and orgs' come from the configuration
(``SWITCHBOARD_GATEWAY_USER_RPM`` …; unset means none).
"""

from __future__ import annotations

import logging
import math
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


class _Counters:
    """Reads and increments of counters, sent to Redis as one pipeline (one round trip for
    all of a request's scopes); Flask-Limiter's own storage calls, one by one, elsewhere."""

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
        pipe = self.storage.get_connection().pipeline(transaction=False)
        for op, key, amount in self.steps:
            key = self.storage.prefixed_key(key)
            if op == "get":
                pipe.get(key)
            else:  # each minute has its own key: it only has to outlive its minute
                pipe.incrby(key, amount)
                pipe.expire(key, WINDOW_S * 2)
        replies = iter(pipe.execute())
        values = []
        for op, _key, _amount in self.steps:
            values.append(int(next(replies) or 0))
            if op == "incr":
                next(replies)  # the expiry's reply
        return values


def count_tokens(budget: Budget, tokens: int) -> None:
    """Add a finished call's metered tokens to every scope with a token limit."""
    if tokens <= 0:
        return
    limited = [scope for scope in budget.scopes if scope.tpm]
    if not limited:
        return
    counters = _Counters(limiter.storage)
    for scope in limited:
        counters.incr(_key("tokens", scope, budget.minute), tokens)
    try:
        totals = counters.run()
    except Exception as exc:  # the reply went out already: it is not failed for this
        log.error("tokens could not be counted (%s)", type(exc).__name__)
        return
    for scope, used in zip(limited, totals, strict=True):
        if budget.tokens is not None and scope.tpm:
            budget.tokens = _tighter(budget.tokens, scope.tpm, scope.tpm - used)
