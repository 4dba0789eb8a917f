"""The only retry loop: exponential backoff with jitter, honouring Retry-After, then the
next fallback model. SDK retries are always 0.

Deadlines: a call has one overall deadline for all its attempts, waits and fallbacks
(``LLM_CALL_DEADLINE_S``). Each attempt gets min(request timeout, time left) for the whole
exchange, enforced by the transport on every socket operation. A wait — backoff or
Retry-After — that would not leave time for another attempt is not taken: the error is
raised at once, so the fallback model (if any) gets the time that is left.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from webapp.services.llm import transport
from webapp.services.llm.errors import LLMError, Timeout, classify

T = TypeVar("T")
MAX_WAIT_S = 60.0
MIN_ATTEMPT_S = 0.5  # a wait must leave at least this much for the next attempt
sleep = time.sleep  # replaced in tests


def backoff_s(attempt: int, base_ms: int, retry_after: float | None) -> float:
    """``base × 2^attempt`` times a random factor in [½, 1] ("equal jitter"), never shorter
    than Retry-After, at most a minute."""
    delay = base_ms / 1000 * (2**attempt) * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_WAIT_S)


@dataclass
class Attempts:
    """The log of every attempt of one call, kept in the usage record."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        model: str,
        number: int,
        started: float,
        error: LLMError | None = None,
        waited_s: float | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "model": model,
            "attempt": number,
            "status": "error" if error else "ok",
            "latency_ms": int((time.perf_counter() - started) * 1000),
        }
        if error is not None:
            entry.update(error_type=error.error_type, http_status=error.http_status)
        if waited_s is not None:
            entry["retry_in_ms"] = int(waited_s * 1000)
        self.entries.append(entry)


def _out_of_time(provider: str) -> Timeout:
    return Timeout(
        f"The call to {provider} ran out of its overall time limit (retries and fallbacks "
        "included). Try again, or raise the request timeout."
    )


@dataclass(frozen=True)
class Policy:
    """How one model is tried: retries after the first attempt, the backoff's base, and the
    time each attempt may take."""

    max_retries: int
    backoff_ms: int
    timeout_s: float

    @classmethod
    def of(cls, settings: dict[str, Any], timeout_s: float) -> Policy:
        """The policy effective settings give a call's model."""
        return cls(settings["max_retries"], settings["retry_backoff_ms"], timeout_s)


def with_retries(
    fn: Callable[[], T],
    *,
    model: str,
    provider: str,
    secrets: tuple[str, ...],
    policy: Policy,
    attempts: Attempts,
    scope: transport.Scope | None = None,
    deadline: float | None = None,
) -> T:
    """Call ``fn`` until it succeeds, the error is not retryable, retries run out, or the
    overall ``deadline`` (``time.monotonic()``) is too close for another attempt. A call
    runs this through ``Call.retried``, which supplies its log, scope and deadline."""
    scope = scope or transport.Scope()
    max_retries, backoff_ms, timeout_s = policy.max_retries, policy.backoff_ms, policy.timeout_s
    for number in range(max_retries + 1):
        started = time.perf_counter()
        left = timeout_s if deadline is None else min(timeout_s, deadline - time.monotonic())
        if left <= 0:
            raise _out_of_time(provider)
        try:
            attempt = dataclasses.replace(scope, deadline=time.monotonic() + left)
            with transport.scoped(attempt):
                result = fn()
        except Exception as exc:
            error = classify(exc, provider, secrets, left)
            wait = backoff_s(number, backoff_ms, error.retry_after)
            room = None if deadline is None else deadline - time.monotonic() - MIN_ATTEMPT_S
            if not error.retryable or number == max_retries or (room is not None and wait > room):
                attempts.add(model, number + 1, started, error)
                raise error from None
            attempts.add(model, number + 1, started, error, waited_s=wait)
            sleep(wait)
            continue
        attempts.add(model, number + 1, started)
        return result
    raise AssertionError("unreachable")  # the loop always returns or raises
