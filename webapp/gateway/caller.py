"""Who is calling the gateway: the token, its owner and org, and the call context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import g, request

from webapp.models import Organization, User
from webapp.services import llm
from webapp.services.credentials import url_guard
from webapp.services.errors import ValidationError
from webapp.services.tokens import auth_throttle
from webapp.services.tokens.auth import TokenIdentity, TokenRefused, authenticate

from .errors import GatewayError

FEATURE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_KEY_CHARS = 512
BYOK_BASE_URL = "X-BYOK-Base-URL"


@dataclass
class Caller:
    identity: TokenIdentity
    user: User | None
    org: Organization | None
    feature: str | None
    byok_key: str | None = field(default=None, repr=False)  # never logged
    byok_base_url: str | None = None

    def context(self) -> llm.CallContext:
        return llm.CallContext(
            user=self.user,
            org=self.org,
            feature=self.feature,
            caller="gateway",
            access_token_id=self.identity.id,
            byok_key=self.byok_key,
            byok_base_url=self.byok_base_url,
            may_use=self.identity.may_use if self.identity.allowed_models is not None else None,
        )


def _presented_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip() or None


def _byok() -> tuple[str | None, str | None]:
    key = request.headers.get("X-BYOK-API-Key")
    base_url = request.headers.get("X-BYOK-Base-URL")
    if key is None:
        if base_url is not None:
            raise GatewayError(
                400, "X-BYOK-Base-URL needs X-BYOK-API-Key.", param="X-BYOK-Base-URL"
            )
        return None, None
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable() or not key.isascii():
        raise GatewayError(400, "X-BYOK-API-Key is empty or malformed.", param="X-BYOK-API-Key")
    if base_url is not None:
        base_url = _checked_base_url(base_url)
    return key, base_url


def _checked_base_url(raw: str) -> str:
    """The same rules as a base URL saved on a page (url_guard): control characters (a tab)
    and mixed-script hosts refused rather than repaired, port 0 refused, private and
    metadata addresses refused; the host stored in punycode."""
    try:
        return url_guard.check_base_url(raw, field=BYOK_BASE_URL)
    except ValidationError as exc:
        message = exc.errors.get(BYOK_BASE_URL, "This is not a valid URL.")
        raise GatewayError(400, f"{BYOK_BASE_URL}: {message}", param=BYOK_BASE_URL) from None


def current_caller() -> Caller:
    """The authenticated caller of this request (401 when there is none)."""
    try:
        identity = authenticate(_presented_secret())
    except TokenRefused as exc:
        # Only on this failure path: a valid token costs the throttle nothing.
        if wait := auth_throttle.record_failure(request.remote_addr or "unknown", exc.reason):
            raise GatewayError(
                429,
                f"Too many refused access tokens from this address. Retry in {wait} s.",
                code="rate_limit_exceeded",
                retry_after=wait,
            ) from None
        raise GatewayError(401, exc.message, code=exc.reason) from None
    g.gateway_token = identity
    user = identity.owner()
    if identity.user_id is not None and (user is None or not user.active):
        raise GatewayError(
            401, "The owner of this access token is deactivated.", code="owner_inactive"
        )
    org = identity.organization()
    feature = request.headers.get("X-Switchboard-Feature")
    if feature is not None:
        feature = feature.strip().lower()
        if not FEATURE.match(feature):
            raise GatewayError(
                400, "X-Switchboard-Feature is not a feature name.", param="X-Switchboard-Feature"
            )
    key, base_url = _byok()
    return Caller(identity, user, org, feature or None, key, base_url)
