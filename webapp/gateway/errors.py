"""Gateway errors in each protocol's own JSON, with the status codes SDKs expect.

Status codes: 400 bad input (the message names the field, ``param`` too), 401 no or bad
token, 403 a model outside the token's list (or a scope it lacks), 404 unknown model, 413 a
body over ``GATEWAY_MAX_BODY_BYTES``, 429 a rate limit (``Retry-After``), **402 for
``budget_exceeded``** (a 429 would make the official SDKs retry a call that cannot succeed
until the budget resets; 402 is not retried; the error object carries ``budget``: which one,
its limit and when it resets, and a periodic budget's reply ``Retry-After``), 502 the
upstream failed or rejected the managed key, 503 the upstream is overloaded or cooling down,
504 it timed out.

Messages are the call service's classified ones: they never quote the upstream and never
contain a key (the upstream's own words stay in the usage record, for admins).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from webapp.models.base import utcnow
from webapp.services.errors import BudgetExceeded, LLMError, NotFound, ServiceError, ValidationError

ANTHROPIC = "anthropic"
OPENAI = "openai"

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_OPENAI_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    429: "rate_limit_exceeded",
}


def request_protocol() -> str:
    """The protocol this request speaks: Anthropic's for ``/v1/messages…`` and for any
    request from the anthropic SDK (it always sends ``anthropic-version``), else OpenAI's —
    so even a mistyped path answers in the error shape the caller's SDK can read."""
    if request.path.startswith("/v1/messages") or request.headers.get("anthropic-version"):
        return ANTHROPIC
    return OPENAI


class GatewayError(Exception):
    """An error the gateway answers with; ``code`` is a short machine word."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        request_id: str | None = None,
        budget: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.retry_after, self.request_id = retry_after, request_id
        self.budget = budget  # a budget_exceeded error's limit (``BudgetExceeded.limit``)


def from_service_error(exc: ServiceError, *, byok: bool = False) -> GatewayError:
    """The gateway's answer to an error of the services (the call service included)."""
    request_id = getattr(exc, "request_id", None)
    if isinstance(exc, ValidationError):
        param = next(iter(exc.errors), None) or None
        return GatewayError(
            400, exc.message, code="invalid_value", param=param, request_id=request_id
        )
    if isinstance(exc, NotFound):
        return GatewayError(404, exc.message, code="model_not_found", param="model")
    if not isinstance(exc, LLMError):
        return GatewayError(exc.status_code if exc.status_code < 500 else 400, exc.message)
    kind = exc.error_type
    retry_after = None
    if isinstance(exc, BudgetExceeded):
        # A periodic budget can be tried again when it resets: say when, in the body (ISO
        # 8601) and as Retry-After (the SDKs do not retry a 402 on their own).
        return GatewayError(
            402,
            exc.message,
            code=kind,
            retry_after=exc.retry_after_s(utcnow()),
            request_id=request_id,
            budget=exc.limit or None,
        )
    if kind == "auth":
        # The caller's own key (BYOK header) was refused: their problem, said as such.
        status = 401 if byok else 502
    elif kind == "rate_limited":
        status, retry_after = 429, max(1, round(exc.retry_after or 1))
    elif kind == "timeout":
        status = 504
    elif kind == "unavailable":
        status = 503 if exc.http_status in (503, 529) or exc.http_status is None else 502
        if exc.retry_after:
            retry_after = max(1, round(exc.retry_after))
    elif kind in ("not_configured", "bad_request"):
        status = 400
    else:
        status = 502
    return GatewayError(
        status, exc.message, code=kind, retry_after=retry_after, request_id=request_id
    )


def render(error: GatewayError, protocol: str) -> Response:
    if protocol == ANTHROPIC:
        body: dict[str, Any] = {
            "type": "error",
            "error": {
                "type": _ANTHROPIC_TYPES.get(
                    error.status, "invalid_request_error" if error.status < 500 else "api_error"
                ),
                "message": error.message,
            },
        }
        if error.budget:
            body["error"]["budget"] = error.budget
        if error.request_id:
            body["request_id"] = error.request_id
    else:
        kind = _OPENAI_TYPES.get(error.status)
        if kind is None:
            kind = "invalid_request_error" if error.status < 500 else "server_error"
        body = {
            "error": {
                "message": error.message,
                "type": kind,
                "param": error.param,
                "code": error.code,
            }
        }
        if error.budget:
            body["error"]["budget"] = error.budget
    response = jsonify(body)
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    if error.request_id:
        response.headers["x-request-id"] = error.request_id
    return response


def event_payload(error: GatewayError, protocol: str) -> dict[str, Any]:
    """The error as the body of a stream event (after the stream started, it cannot change
    the status any more)."""
    response = render(error, protocol)
    return response.get_json()
