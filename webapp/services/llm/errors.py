"""The error taxonomy of the call service, and the mapping from SDK exceptions to it.

Messages are written for the person who can fix the problem, and are redacted: an upstream
that echoes the request's key back in its error body never gets the key into our messages.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anthropic
import httpx2
import openai

from webapp.services.errors import ServiceError

log = logging.getLogger(__name__)

_SECRET_PATTERNS = [
    re.compile(r"(?i)bearer\s+[^\s\"',;]+"),
    re.compile(r"(?i)(x-api-key|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?[^\s\"',;]+"),
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"\b(xai|gsk|ghp|gho|github_pat)[-_][A-Za-z0-9_\-]{10,}"),
]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove the given secrets (and anything shaped like a key or auth header) from text."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class LLMError(ServiceError):
    """A call failed. ``error_type`` is one of SPEC's taxonomy."""

    error_type = "unavailable"
    status_code = 502
    retryable = False
    fallback = False  # may the next model be tried?

    def __init__(
        self, message: str, *, http_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.retry_after = retry_after


class NotConfigured(LLMError):
    error_type, status_code = "not_configured", 400


class AuthError(LLMError):
    error_type, status_code = "auth", 502


class RateLimited(LLMError):
    error_type, status_code, retryable, fallback = "rate_limited", 429, True, True


class Timeout(LLMError):
    error_type, status_code, retryable, fallback = "timeout", 504, True, True


class Unavailable(LLMError):
    error_type, status_code, retryable, fallback = "unavailable", 502, True, True


class BadRequest(LLMError):
    error_type, status_code = "bad_request", 400


class Cancelled(LLMError):
    """The caller stopped reading a stream (e.g. the browser tab closed)."""

    error_type, status_code = "cancelled", 499


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _upstream_message(exc: Any, secrets: tuple[str, ...]) -> str:
    """The provider's own words, redacted first and only then shortened (a key cut in half
    by the shortening would no longer match the redaction)."""
    body = getattr(exc, "body", None)
    text = str(getattr(exc, "message", "") or exc)
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else None
        text = str(message) if message else json.dumps(body)
    return redact(redact(text, secrets)[:300], secrets)


TIMEOUT_ERRORS = (openai.APITimeoutError, anthropic.APITimeoutError)
# anthropic lets a broken stream's transport error through unwrapped.
CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError, httpx2.TransportError)
STATUS_ERRORS = (openai.APIStatusError, anthropic.APIStatusError)
VALIDATION_ERRORS = (openai.APIResponseValidationError, anthropic.APIResponseValidationError)


def classify(
    exc: BaseException, provider: str, secrets: tuple[str, ...] = (), timeout_s: float | None = None
) -> LLMError:
    """Map any exception raised while calling ``provider`` to the taxonomy."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, TIMEOUT_ERRORS):
        limit = f" within {timeout_s:g} s" if timeout_s else ""
        return Timeout(
            f"{provider} did not answer{limit}. Try again, or raise the request timeout."
        )
    if isinstance(exc, CONNECTION_ERRORS):
        return Unavailable(
            f"{provider} could not be reached ({type(exc).__name__}). "
            "Try again later, or configure a fallback model."
        )
    if isinstance(exc, (*VALIDATION_ERRORS, ValueError)):
        return Unavailable(
            f"{provider} sent a response Switchboard could not read. Try again later."
        )
    if isinstance(exc, STATUS_ERRORS):
        status = exc.status_code
        detail = _upstream_message(exc, secrets)
        if status in (401, 403):
            return AuthError(
                f"{provider} rejected the key ({status}): {detail} Check or replace the key.",
                http_status=status,
            )
        if status == 429:
            return RateLimited(
                f"{provider} is rate limiting requests: {detail} Try again shortly, "
                "or configure a fallback model.",
                http_status=status,
                retry_after=_retry_after(exc),
            )
        if status >= 500 or status in (408, 409):
            return Unavailable(
                f"{provider} is unavailable right now ({status}): {detail} "
                "Try again later, or configure a fallback model.",
                http_status=status,
                retry_after=_retry_after(exc),
            )
        return BadRequest(
            f"{provider} refused the request ({status}): {detail}", http_status=status
        )
    # Anything else is a bug on our side: not retried, not hidden behind a fallback.
    log.exception("unexpected error calling %s", provider)
    return LLMError(
        f"Calling {provider} failed unexpectedly ({type(exc).__name__}). The error was logged."
    )
