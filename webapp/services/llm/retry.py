"""The only retry loop: exponential backoff with jitter, honouring Retry-After, then the
next fallback model. SDK retries are always 0."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from webapp.services.llm.errors import LLMError, classify

T = TypeVar("T")
MAX_WAIT_S = 60.0
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


def with_retries(
    fn: Callable[[], T],
    *,
    model: str,
    provider: str,
    secrets: tuple[str, ...],
    max_retries: int,
    backoff_ms: int,
    timeout_s: float,
    attempts: Attempts,
) -> T:
    """Call ``fn`` until it succeeds, the error is not retryable, or retries run out."""
    for number in range(max_retries + 1):
        started = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            error = classify(exc, provider, secrets, timeout_s)
            if not error.retryable or number == max_retries:
                attempts.add(model, number + 1, started, error)
                raise error from None
            wait = backoff_s(number, backoff_ms, error.retry_after)
            attempts.add(model, number + 1, started, error, waited_s=wait)
            sleep(wait)
            continue
        attempts.add(model, number + 1, started)
        return result
    raise AssertionError("unreachable")  # the loop always returns or raises
