"""The error taxonomy of the call service, and the mapping from SDK exceptions to it.

Messages are written for the person who can fix the problem and never quote the upstream:
an upstream's error text can echo keys, internal host names or anything an attacker put in
a reply. What it said is kept apart, in ``detail``: redacted, stripped of control characters
and cut to ``DETAIL_CHARS``. Admin pages (playground, provider and key tests on the admin
pages) show it through ``admin_message``; the usage record stores that sanitized form; member
pages show only ``message`` — the classified error and the HTTP status.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore2
import httpx2
import openai

from webapp.services.errors import LLMError, NotConfigured
from webapp.services.llm.limits import UpstreamFault
from webapp.services.llm.transport import OutboundRefused

log = logging.getLogger(__name__)

__all__ = [
    "AuthError",
    "BadRequest",
    "Blocked",
    "Cancelled",
    "LLMError",
    "NotConfigured",
    "RateLimited",
    "Timeout",
    "Unavailable",
    "Unreachable",
    "classify",
    "redact",
    "sanitize",
]

DETAIL_CHARS = 300
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


def sanitize(text: str, secrets: tuple[str, ...] = (), limit: int = DETAIL_CHARS) -> str:
    """Upstream text fit to show an admin: redacted, one line of printable characters, cut
    to ``limit`` (redacted again after the cut: a key cut in half would no longer match)."""
    text = "".join(ch if ch.isprintable() else " " for ch in redact(text, secrets))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return redact(text, secrets)


class AuthError(LLMError):
    error_type, status_code = "auth", 502


class RateLimited(LLMError):
    error_type, status_code, retryable, fallback = "rate_limited", 429, True, True


class Timeout(LLMError):
    error_type, status_code, retryable, fallback = "timeout", 504, True, True


class Unavailable(LLMError):
    error_type, status_code, retryable, fallback = "unavailable", 502, True, True


class Unreachable(Unavailable):
    """The provider could not be reached at all (name not resolved, connection refused, TLS):
    whatever the model, a failure of the whole provider (``cooldown``); to callers an
    unavailable provider like any other, and a key's last test tells it apart."""


class Blocked(NotConfigured):
    """Switchboard itself refused to connect: the address is private or reserved and not
    among the allowed private hosts."""


class BadRequest(LLMError):
    error_type, status_code = "bad_request", 400


class Cancelled(LLMError):
    """The caller stopped reading a stream (e.g. the browser tab closed)."""

    error_type, status_code = "cancelled", 499


def retry_after_s(headers: Any, now: float | None = None) -> float | None:
    """Seconds the upstream asks us to wait: ``retry-after-ms``, or ``Retry-After`` in
    seconds or as an HTTP date. None when absent or unreadable."""
    if headers is None:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return max(0.0, float(value))
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    return retry_after_s(response.headers if response is not None else None)


def upstream_detail(exc: Any, secrets: tuple[str, ...]) -> str | None:
    """The provider's own words (its error message, or the start of an HTML page), sanitized."""
    body = getattr(exc, "body", None)
    text = str(getattr(exc, "message", "") or "")
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else None
        text = str(message) if message else str(body)
    elif isinstance(body, str) and body.strip():
        text = body
    return sanitize(text, secrets) or None


def _found(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    """``exc`` or the exception it was raised from, if one is a ``kind``."""
    for _ in range(6):
        if isinstance(exc, kind):
            return exc
        following = exc.__cause__ or exc.__context__
        if following is None:
            return None
        exc = following
    return None


def _sdk_errors(name: str, *more: type[BaseException]) -> tuple[type[BaseException], ...]:
    """The exception class ``name`` of each SDK the process has imported, and ``more``. The
    anthropic SDK is imported on the first Anthropic call only; before that none of its
    exceptions can exist."""
    found: list[type[BaseException]] = [getattr(openai, name)]
    if (sdk := sys.modules.get("anthropic")) is not None:
        found.append(getattr(sdk, name))
    return (*found, *more)


def _timeout_errors() -> tuple[type[BaseException], ...]:
    return _sdk_errors("APITimeoutError", httpx2.TimeoutException)


def _connection_errors() -> tuple[type[BaseException], ...]:
    # anthropic lets a broken stream's transport error through unwrapped.
    return _sdk_errors("APIConnectionError", httpx2.TransportError)


def _status_errors() -> tuple[type[BaseException], ...]:
    return _sdk_errors("APIStatusError")


def _validation_errors() -> tuple[type[BaseException], ...]:
    return _sdk_errors("APIResponseValidationError")


def _reading_errors() -> tuple[type[BaseException], ...]:
    # A reply that is not what the protocol promises: not JSON, wrong shape, nested past
    # Python's recursion limit. An upstream fault like a 502, not a bug of ours.
    return (*_validation_errors(), ValueError, RecursionError)


def _refused(exc: OutboundRefused) -> Blocked:
    where = "resolves to " if exc.address is not None else "is "
    hint = " An admin can allow this host and port on the Keys page." if exc.allowable else ""
    return Blocked(
        f"Switchboard will not call {exc.host}: it {where}{exc.reason}.{hint}",
        detail=f"{exc.host} resolved to {exc.address}." if exc.address is not None else None,
    )


def _unreadable(provider: str, reason: str) -> Unavailable:
    return Unavailable(
        f"{provider} sent a reply Switchboard could not read ({reason}). Try again later, "
        "or configure a fallback model."
    )


def _reading_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, UnicodeError):
        return "text that is not UTF-8"
    if isinstance(exc, ValueError) and not isinstance(exc, _validation_errors()):
        return "not valid JSON"
    return "an unexpected shape"


def _status_error(exc: Any, provider: str, secrets: tuple[str, ...]) -> LLMError:
    status = exc.status_code
    detail = upstream_detail(exc, secrets)
    if status == 401:
        return AuthError(
            f"{provider} rejected the key ({status}). Check or replace the key.",
            http_status=status,
            detail=detail,
        )
    if status == 403:  # usually a model (or feature) this key may not use, not a bad key
        return AuthError(
            f"{provider} refused this key access ({status}): it may not be allowed to use "
            "this model. Check the key's permissions, or use another key or model.",
            http_status=status,
            detail=detail,
        )
    if status == 429:
        return RateLimited(
            f"{provider} is rate limiting requests ({status}). Try again shortly, "
            "or configure a fallback model.",
            http_status=status,
            retry_after=_retry_after(exc),
            detail=detail,
        )
    if status >= 500 or status in (408, 409):
        return Unavailable(
            f"{provider} is unavailable right now ({status}). "
            "Try again later, or configure a fallback model.",
            http_status=status,
            retry_after=_retry_after(exc),
            detail=detail,
        )
    return BadRequest(
        f"{provider} refused the request ({status}). An admin can see the provider's "
        "explanation in the usage record.",
        http_status=status,
        detail=detail,
    )


def classify(
    exc: BaseException, provider: str, secrets: tuple[str, ...] = (), timeout_s: float | None = None
) -> LLMError:
    """Map any exception raised while calling ``provider`` to the taxonomy."""
    if isinstance(exc, LLMError):
        return exc
    if refused := _found(exc, OutboundRefused):
        return _refused(refused)
    if fault := _found(exc, UpstreamFault):
        return _unreadable(provider, str(fault))
    if isinstance(exc, _timeout_errors()):
        limit = f" within {timeout_s:g} s" if timeout_s else ""
        return Timeout(
            f"{provider} did not answer{limit}. Try again, or raise the request timeout."
        )
    if isinstance(exc, _connection_errors()):
        # Not even connected (refused, no address): the whole provider, whatever the model.
        # A connection lost after that reached the provider, so is one call's outage.
        kind = (
            Unreachable
            if _found(exc, (httpx2.ConnectError, httpcore2.ConnectError))
            else Unavailable
        )
        return kind(
            f"{provider} could not be reached ({type(exc).__name__}). "
            "Try again later, or configure a fallback model."
        )
    if isinstance(exc, _reading_errors()):
        return _unreadable(provider, _reading_reason(exc))
    if isinstance(exc, _status_errors()):
        return _status_error(exc, provider, secrets)
    # Anything else is a bug on our side: not retried, not hidden behind a fallback.
    log.exception("unexpected error calling %s", provider)
    return LLMError(
        f"Calling {provider} failed unexpectedly ({type(exc).__name__}). The error was logged."
    )
