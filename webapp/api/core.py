"""The API's plumbing: who is calling (a Bearer access token, never a cookie), how a route
declares its input and output schemas (one declaration serves validation, serialization and
the OpenAPI document), errors as RFC 9457 problem details, and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

import pydantic
from flask import Response, current_app, g, request
from pydantic import BaseModel
from werkzeug.exceptions import HTTPException

from webapp.api import bp, rate_limits
from webapp.extensions import db
from webapp.models import Role, TokenKind, TokenScope, User
from webapp.models.base import utcnow
from webapp.services.accounts import recent_sign_in
from webapp.services.errors import BudgetExceeded, ServiceError, ValidationError
from webapp.services.schemas import message as error_message
from webapp.services.tokens import auth_throttle
from webapp.services.tokens.auth import TokenIdentity, TokenRefused, authenticate

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

PROBLEM = "application/problem+json"
READS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_WIDE = "non_field_errors"  # where a message about the whole request goes in ``errors``
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Budget exceeded",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}
TYPES = {
    401: "unauthorized",
    402: "budget-exceeded",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    422: "validation-error",
    429: "rate-limited",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    budget: Mapping[str, Any] | None = None,
) -> Response:
    """An RFC 9457 problem details response; ``errors`` (422) maps fields to messages,
    ``budget`` (402) says which limit refused the call and when it resets."""
    body: dict[str, Any] = {
        "type": f"/api/docs#problem-{TYPES.get(status, 'error')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = dict(errors)
    if budget:
        body["budget"] = dict(budget)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_messages(errors: Mapping[str, str]) -> dict[str, list[str]]:
    """A service's ``{field: message}`` as ``{field: [message]}``; "" (the whole request)
    becomes ``non_field_errors``."""
    return {(name or FORM_WIDE): [text] for name, text in errors.items()}


class ApiError(Exception):
    """An error the API itself raises (authentication, scope, malformed input)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers


def invalid(name: str, text: str) -> ApiError:
    return ApiError(422, text, errors={name: [text]})


def only_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """An update body naming only the record's editable fields (the slug, say, never
    changes: saying so beats ignoring it)."""
    if unknown := sorted(set(body) - set(allowed)):
        raise ApiError(
            422, "Check the fields.", errors={name: ["Is not a field here."] for name in unknown}
        )
    return body


MAX_ID = 2**31 - 1  # ids are 32-bit in every table


def record_id(value: Any, name: str) -> int | None:
    """An id a body names (null: none), or a 422: never a number the database cannot hold."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise invalid(name, f"Must be a record id (a whole number from 1 to {MAX_ID:,}) or null.")
    return value


def take_version(body: dict[str, Any]) -> int:
    """The ``version`` an update is based on (required: a stale one is a 409)."""
    version = body.pop("version", None)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ApiError(
            422,
            "Send the version you read.",
            errors={"version": ["Required: the version of the record you read."]},
        )
    return version


# --- who is calling --------------------------------------------------------------------


def _bearer() -> str | None:
    """The Bearer token of the Authorization header; cookies and ``x-api-key`` do not count."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def identity() -> TokenIdentity:
    return g.api_identity


def actor() -> User:
    """The token's owner in this request's session: every service call runs as them."""
    return g.api_actor


def require_admin() -> User:
    """Routes the pages keep to site admins (``admin_required``)."""
    user = actor()
    if user.role != Role.ADMIN:
        raise ApiError(403, "Only admins may do this.")
    return user


def require_org_admin() -> User:
    """Routes the pages keep to admins and org admins (``org_admin_required``); which org is
    checked by the service with the id in hand."""
    user = actor()
    if user.role != Role.ADMIN and not user.administered_org_ids():
        raise ApiError(403, "Only admins and organization admins may do this.")
    return user


def _too_many_failures(wait: int) -> ApiError:
    return ApiError(
        429,
        f"Too many refused access tokens from this address. Retry in {wait} s.",
        headers={"Retry-After": str(wait)},
    )


@bp.before_request
def _authenticate() -> None:
    address = request.remote_addr or "unknown"
    if wait := auth_throttle.wait_seconds(address):
        raise _too_many_failures(wait)  # refused unchecked: no token lookup while it waits
    try:
        token = authenticate(_bearer(), gateway=False)
    except TokenRefused as exc:
        if wait := auth_throttle.record_failure(address, exc.reason):
            raise _too_many_failures(wait) from None
        status = 403 if exc.reason == "scope" else 401
        headers = {"WWW-Authenticate": 'Bearer realm="switchboard"'} if status == 401 else None
        raise ApiError(status, exc.message, headers=headers) from None
    if token.kind != TokenKind.PERSONAL:
        raise ApiError(
            403, "Service tokens call the gateway only; use a personal token for the API."
        )
    if token.scope == TokenScope.READ_ONLY and request.method not in READS:
        raise ApiError(403, "This access token is read-only.")
    owner = token.owner()
    if owner is None:  # pragma: no cover - a personal token always has one
        raise ApiError(401, "The access token is not valid.")
    # The token's copy of its owner may be a second old: an API request acts on (and may
    # change) the user as stored now, with their current role and version.
    db.session.refresh(owner)
    g.api_identity, g.api_actor = token, owner
    # A full token stands for the pages' recent sign-in: one is needed to create it.
    full = token.scope == TokenScope.FULL
    recent_sign_in.vouch(lambda: full)
    rate_limits.admit(token.id, sensitive=_sensitive())


def _sensitive() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "api_sensitive", False))


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(rate_limits.headers())
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    db.session.rollback()
    return problem(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)


@bp.errorhandler(rate_limits.RateLimited)
def _rate_limited(exc: rate_limits.RateLimited) -> Response:
    return problem(429, exc.message, headers={"Retry-After": str(exc.retry_after)})


@bp.errorhandler(recent_sign_in.RecentSignInRequired)
def _needs_full_token(exc: recent_sign_in.RecentSignInRequired) -> Response:
    db.session.rollback()
    return problem(
        403,
        f"{exc.action} needs an access token with the full scope (the API's stand-in for a "
        "recent sign-in).",
    )


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    if isinstance(exc, ValidationError):
        return problem(422, exc.message or "Check the fields.", errors=field_messages(exc.errors))
    if isinstance(exc, BudgetExceeded):
        wait = exc.retry_after_s(utcnow())
        headers = {"Retry-After": str(wait)} if wait else None
        return problem(402, exc.message, budget=exc.limit, headers=headers)
    status = exc.status_code if exc.status_code in TITLES else 400
    return problem(status, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return problem(status, exc.description or TITLES.get(status, "Error"))


# --- declaring routes ------------------------------------------------------------------


@dataclass
class Operation:
    """One route as the OpenAPI document describes it."""

    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    sensitive: bool
    csv: bool = False
    description: str = ""
    path_params: dict[str, str] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


class Query(BaseModel):
    """Query parameters: text converted to the declared types, unknown names ignored."""

    model_config = pydantic.ConfigDict(extra="ignore", str_strip_whitespace=True)


class Body(BaseModel):
    """A request body the API checks the shape of before a service checks its rules."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def _pydantic_errors(exc: pydantic.ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or FORM_WIDE
        errors.setdefault(name, []).append(error_message(error))
    return errors


def parse(schema: type[M], data: Any) -> M:
    """``data`` as ``schema`` or a 422 with every field's messages."""
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = _pydantic_errors(exc)
        raise ApiError(422, "Check the fields.", errors=errors) from None


def json_body() -> dict[str, Any]:
    """The request's JSON object (a 422 for anything else)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise invalid(FORM_WIDE, "Send a JSON object with Content-Type: application/json.")
    return data


def _no_nul(value: Any) -> None:
    """PostgreSQL cannot store NUL in text (the pages refuse it for forms the same way)."""
    if isinstance(value, str) and "\x00" in value:
        raise invalid(FORM_WIDE, "Text cannot contain NUL (\\0) characters.")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)


def serialize(schema: Any, value: Any) -> Any:
    """``value`` (ORM rows, dataclasses, dicts) as the JSON of the documented schema."""
    adapter = pydantic.TypeAdapter(schema)
    return adapter.dump_python(
        adapter.validate_python(value, from_attributes=True), mode="json", by_alias=True
    )


def _openapi_path(rule: str) -> tuple[str, dict[str, str]]:
    params: dict[str, str] = {}
    parts = []
    for piece in rule.split("/"):
        if piece.startswith("<") and piece.endswith(">"):
            kind, _, name = piece[1:-1].rpartition(":")
            params[name] = "integer" if kind == "int" else "string"
            parts.append("{" + name + "}")
        else:
            parts.append(piece)
    return "/".join(parts), params


def route(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    sensitive: bool = False,
    csv: bool = False,
    validate_body: bool = True,
) -> Callable[[F], F]:
    """Register an API route and describe it for the OpenAPI document.

    The view gets the path parameters, ``query=`` (a ``query`` instance) and ``body=``: a
    ``body`` instance, or with ``validate_body=False`` the raw JSON object, for services
    whose own schema (the one documented) validates it. What the view returns is serialized
    through ``response``; a Response passes as it is; ``status`` 204 sends no body."""

    def decorate(view: F) -> F:
        @wraps(view)
        def handler(**kwargs: Any) -> Any:
            if query is not None:
                kwargs["query"] = parse(query, request.args.to_dict())
            if body is not None:
                raw = json_body()
                _no_nul(raw)
                kwargs["body"] = parse(body, raw) if validate_body else raw
            result = view(**kwargs)
            if isinstance(result, Response):
                return result
            if status == 204:
                return Response(status=204)
            data = serialize(response, result) if response is not None else result
            return Response(json.dumps(data), status=status, mimetype="application/json")

        handler.api_sensitive = sensitive  # type: ignore[attr-defined]
        endpoint = f"{method.lower()}_{view.__name__}"
        bp.add_url_rule(rule, endpoint=endpoint, view_func=handler, methods=[method])
        path, params = _openapi_path(rule)
        OPERATIONS.append(
            Operation(
                method=method.lower(),
                rule=path,
                endpoint=endpoint,
                summary=summary,
                tag=tag,
                body=body,
                query=query,
                response=response,
                status=status,
                sensitive=sensitive,
                csv=csv,
                description=(view.__doc__ or "").strip(),
                path_params=params,
            )
        )
        return view

    return decorate


# --- cursor pagination -----------------------------------------------------------------


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The values an opaque cursor holds; a 422 for one this API did not hand out."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid("cursor", "This cursor is not one the API handed out.") from None
    if not isinstance(values, list) or not values:
        raise invalid("cursor", "This cursor is not one the API handed out.")
    return values


def id_after(cursor: str | None) -> int | None:
    """The last id of the previous page, from a cursor of ``encode_cursor(id)``."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    last = values[0]
    if isinstance(last, bool) or not isinstance(last, int) or not 0 <= last < 2**31:
        raise invalid("cursor", "This cursor is not one the API handed out.")
    return last


def wrap(view: F) -> F:
    """Keep a view's name for routes registered on several rules."""

    @wraps(view)
    def inner(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return inner  # type: ignore[return-value]
