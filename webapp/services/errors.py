"""Typed errors services raise; views map them to status codes and field messages."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


class ServiceError(Exception):
    """Base class: a use case refused the request with a message a user can act on."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(ServiceError):
    """Bad input: ``errors`` maps field names to messages (``""`` for the whole form)."""

    status_code = 422

    def __init__(self, errors: dict[str, str] | str, field: str = "") -> None:
        if isinstance(errors, str):
            errors = {field: errors}
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotFound(ServiceError):
    """The record does not exist, or the actor may not know that it does."""

    status_code = 404


class PermissionDenied(ServiceError):
    """The actor is known but may not do this."""

    status_code = 403


class Conflict(ServiceError):
    """Someone else changed the record since the form was loaded."""

    status_code = 409


class LLMError(ServiceError):
    """A call to a provider failed. ``error_type`` is one of SPEC's taxonomy; the subclasses
    in ``webapp/services/llm/errors.py`` say which, and whether a retry or a fallback helps.

    ``detail`` is the upstream's own words, sanitized, for admins only (``admin_message``).
    """

    error_type = "unavailable"
    status_code = 502
    retryable = False
    fallback = False  # may the next model be tried?

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.retry_after = retry_after
        self.detail = detail

    @property
    def admin_message(self) -> str:
        """The message with the upstream's own (sanitized) words, for admin pages."""
        return f"{self.message} Upstream said: “{self.detail}”" if self.detail else self.message


class NotConfigured(LLMError):
    """Nothing can serve this call as configured: no usable key, a disabled or disallowed
    model, an unknown feature. The one "not configured" error of settings resolution, key
    resolution and the call service alike; the message says what to change."""

    error_type, status_code = "not_configured", 400


class BudgetExceeded(LLMError):
    """A managed call would exceed a hard budget or the paying account's credits; refused
    before it reaches the provider. The message names the limit and when it resets.

    ``limit`` says what was hit, as the gateway and the API show it: ``kind`` ("budget" or
    "credits"), ``scope`` (whose: "user", "org" or "token"), and for a budget its
    ``budget_id``, ``period`` (daily, monthly, total), ``limit`` (the amount, as text),
    ``unit`` (usd, credits) and ``resets_at`` (ISO 8601 UTC; None for a total budget and a
    balance, which do not reset)."""

    error_type, status_code = "budget_exceeded", 402

    def __init__(self, message: str, *, limit: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.limit: dict[str, Any] = limit or {}

    def retry_after_s(self, now: datetime) -> int | None:
        """Seconds until the budget resets (None: it does not, or it is a balance)."""
        resets = self.limit.get("resets_at")
        if not resets:
            return None
        seconds = (datetime.fromisoformat(resets) - now).total_seconds()
        return max(1, math.ceil(seconds))
