"""One model's attempts: its key pool, then retries with backoff (``retry``).

A 429 on one key moves on to the next key of the pool before it counts as a retry; a 401 or
403 marks that key invalid (for every process) and moves on too. Only when the pool is
spent does the error go to the retry loop, and from there to the next fallback model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from webapp.models import LastTestStatus
from webapp.services.credentials import pools
from webapp.services.credentials import storage as credentials
from webapp.services.llm import retry
from webapp.services.llm.errors import AuthError, RateLimited, classify

if TYPE_CHECKING:
    from webapp.services.llm.calls import Call, Target

T = TypeVar("T")


def _next_key(call: Call, target: Target, error: Exception, started: float) -> None:
    """Note why this key is passed over, in the attempt log and for later calls."""
    key = target.key
    if isinstance(error, AuthError) and key.credential_id is not None:
        credentials.record_test(key.credential_id, LastTestStatus.INVALID, error.message)
    elif isinstance(error, RateLimited):
        pools.note_rate_limited(key.credential_id)
    call.attempts.entries.append(
        {
            "model": target.model.global_id,
            "attempt": 0,
            "status": "next_key",
            "error_type": getattr(error, "error_type", "unavailable"),
            "http_status": getattr(error, "http_status", None),
            "key": key.label or key.source,
            "latency_ms": int((time.perf_counter() - started) * 1000),
        }
    )


def run(
    call: Call,
    targets: list[Target],
    work: Callable[[Target], T],
    policy: retry.Policy,
) -> tuple[Target, T]:
    """Run ``work`` on the pool's keys in turn, with retries; the target that served and
    the result. Raises the classified error when every key and retry is spent."""
    model = targets[0].model
    secrets = tuple(t.key.secret for t in targets)

    def one() -> tuple[Target, T]:
        position = [0]  # every retry starts again from the pool's first key
        while True:
            target = targets[position[0]]
            call.serve(target)
            started = time.perf_counter()
            try:
                return target, work(target)
            except Exception as exc:
                error = classify(exc, model.provider_name, secrets, policy.timeout_s)
                if isinstance(error, RateLimited):
                    pools.note_rate_limited(target.key.credential_id)
                switch = isinstance(error, (RateLimited, AuthError))
                if not switch or position[0] + 1 >= len(targets):
                    raise error from None
                _next_key(call, target, error, started)
                position[0] += 1

    return call.retried(
        one, model=model.global_id, provider=model.provider_name, secrets=secrets, policy=policy
    )
