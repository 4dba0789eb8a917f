"""Requests per minute per access token on the management API.

Two policies: ``general`` for every route (``API_RPM``) and ``sensitive`` for credentials
and users (``API_SENSITIVE_RPM``), which a request to such a route counts against as well.
Counters live in Flask-Limiter's storage, as the gateway's do (Redis when ``REDIS_URL`` is
set), in fixed calendar minutes. Replies carry the IETF ``RateLimit-Policy`` and
``RateLimit`` headers (draft-ietf-httpapi-ratelimit-headers); a spent limit is a 429 with
``Retry-After``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import current_app, g

from webapp.extensions import limiter
from webapp.gateway import rate_limits as gateway_limits

WINDOW_S = gateway_limits.WINDOW_S


class RateLimited(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


@dataclass
class Count:
    policy: str
    limit: int
    remaining: int


def _key(policy: str, token_id: int, minute: int) -> str:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "switchboard"
    return f"{prefix}/api/{policy}/{token_id}/{minute}"


def admit(token_id: int, *, sensitive: bool) -> None:
    """Count the request against the token's policies; RateLimited when one is spent."""
    now = gateway_limits.clock()
    minute = int(now // WINDOW_S)
    reset = WINDOW_S - now % WINDOW_S
    policies = [("general", current_app.config.get("API_RPM"))]
    if sensitive:
        policies.append(("sensitive", current_app.config.get("API_SENSITIVE_RPM")))
    counts: list[Count] = []
    spent: Count | None = None
    for policy, limit in policies:
        if not limit:
            continue
        used = limiter.storage.incr(_key(policy, token_id, minute), WINDOW_S * 2)
        count = Count(policy, limit, max(0, limit - used))
        counts.append(count)
        if used > limit and spent is None:
            spent = count
    g.api_rate = (counts, reset)
    if spent is not None:
        wait = max(1, math.ceil(reset))
        raise RateLimited(
            f"Rate limit reached: {spent.limit} requests per minute ({spent.policy}). "
            f"Retry in {wait} s.",
            wait,
        )


def headers() -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for this request's policies (none: no headers)."""
    counts, reset = g.get("api_rate") or ([], 0.0)
    if not counts:
        return {}
    seconds = max(0, math.ceil(reset))
    return {
        "RateLimit-Policy": ", ".join(f'"{c.policy}";q={c.limit};w={WINDOW_S}' for c in counts),
        "RateLimit": ", ".join(f'"{c.policy}";r={c.remaining};t={seconds}' for c in counts),
    }
