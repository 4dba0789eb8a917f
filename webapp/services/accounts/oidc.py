"""The OpenID Connect authorization-code flow with PKCE, from the relying party's side:
discovery, the authorization request (state, nonce, S256 code challenge, built with Authlib),
the code exchange, and the ID token's checks (signature against the provider's JWKS, ``iss``,
``aud``, ``azp``, ``exp``, ``iat``, ``nonce``; RSA/EC algorithms only) with ``joserfc``.

Outbound calls go only to the operator-configured issuer and the endpoints its discovery
document names: no redirects followed, proxy variables ignored, short timeouts, bounded replies.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from webapp.services.accounts.sso_config import OidcProvider

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
MAX_REPLY = 1024 * 1024
CACHE_S = 3600  # discovery documents and key sets are re-read hourly (and on an unknown key)
REFRESH_MIN_S = 30  # an unknown key re-reads the key set at most this often
LEEWAY_S = 60  # clock skew allowed for exp / iat / nbf
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class OidcError(Exception):
    """The flow failed; ``message`` is safe to show, ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and the secrets to keep in the session until it returns."""

    url: str
    state: str
    nonce: str
    code_verifier: str


_lock = threading.Lock()
_metadata: dict[str, tuple[float, Metadata]] = {}
_keys: dict[str, tuple[float, KeySet]] = {}


def clear_caches() -> None:
    with _lock:
        _metadata.clear()
        _keys.clear()


def _client() -> httpx2.Client:
    return httpx2.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False)


def _json(response: httpx2.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        log.warning("OpenID %s answered HTTP %s", what, response.status_code)
        raise OidcError(
            f"The identity provider's {what} answered HTTP {response.status_code}.", 502
        )
    if len(response.content) > MAX_REPLY:
        raise OidcError(f"The identity provider's {what} reply is too large.", 502)
    try:
        data = response.json()
    except ValueError:
        raise OidcError(f"The identity provider's {what} did not answer JSON.", 502) from None
    if not isinstance(data, dict):
        raise OidcError(f"The identity provider's {what} did not answer a JSON object.", 502)
    return data


def _get(url: str, what: str) -> dict[str, Any]:
    try:
        with _client() as client:
            return _json(client.get(url, headers={"Accept": "application/json"}), what)
    except httpx2.HTTPError as exc:
        log.warning("OpenID %s at %s unreachable: %s", what, url, type(exc).__name__)
        raise OidcError("The identity provider cannot be reached. Try again later.", 502) from None


def metadata(provider: OidcProvider) -> Metadata:
    """The provider's discovery document (cached), checked to be the configured issuer's."""
    with _lock:
        cached = _metadata.get(provider.issuer)
    if cached and time.monotonic() - cached[0] < CACHE_S:
        return cached[1]
    data = _get(f"{provider.issuer}/.well-known/openid-configuration", "discovery document")
    if str(data.get("issuer", "")).rstrip("/") != provider.issuer:
        raise OidcError("The identity provider's discovery document names another issuer.", 502)
    try:
        found = Metadata(
            issuer=str(data["issuer"]),
            authorization_endpoint=str(data["authorization_endpoint"]),
            token_endpoint=str(data["token_endpoint"]),
            jwks_uri=str(data["jwks_uri"]),
        )
    except KeyError as exc:
        raise OidcError(f"The identity provider's discovery document lacks {exc}.", 502) from None
    with _lock:
        _metadata[provider.issuer] = (time.monotonic(), found)
    return found


def _key_set(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    with _lock:
        cached = _keys.get(jwks_uri)
    age = time.monotonic() - cached[0] if cached else None
    if cached and age is not None and age < (REFRESH_MIN_S if refresh else CACHE_S):
        return cached[1]
    try:
        keys = KeySet.import_key_set(_get(jwks_uri, "key set"))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise OidcError("The identity provider's key set cannot be read.", 502) from None
    with _lock:
        _keys[jwks_uri] = (time.monotonic(), keys)
    return keys


def authorization_request(
    provider: OidcProvider, redirect_uri: str, *, reauth: bool = False
) -> AuthorizationRequest:
    """A fresh state, nonce and PKCE verifier, and the URL that carries them (S256)."""
    endpoint = metadata(provider).authorization_endpoint
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    extra = {"prompt": "login", "max_age": "0"} if reauth else {}
    url = prepare_grant_uri(
        endpoint,
        provider.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=provider.scopes,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        **extra,
    )
    return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def _token_reply(provider: OidcProvider, code: str, redirect_uri: str, verifier: str) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    try:
        with _client() as client:
            response = client.post(
                metadata(provider).token_endpoint,
                data=form,
                auth=(provider.client_id, provider.client_secret),
                headers={"Accept": "application/json"},
            )
    except httpx2.HTTPError as exc:
        log.warning(
            "OpenID token endpoint of %s unreachable: %s", provider.name, type(exc).__name__
        )
        raise OidcError("The identity provider cannot be reached. Try again later.", 502) from None
    if response.status_code in (400, 401):
        log.warning(
            "OpenID code exchange refused by %s (HTTP %s)", provider.name, response.status_code
        )
        raise OidcError("The identity provider refused the sign-in code. Start again.", 400)
    id_token = _json(response, "token endpoint").get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcError("The identity provider sent no ID token.", 502)
    return id_token


def validate_id_token(provider: OidcProvider, id_token: str, nonce: str) -> dict[str, Any]:
    """The ID token's claims, once its signature and claims check out; OidcError (400) else."""
    jwks_uri = metadata(provider).jwks_uri
    try:
        try:
            token = jwt.decode(id_token, _key_set(jwks_uri), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError):
            # Perhaps the provider rotated its keys: read them once more, then decide.
            keys = _key_set(jwks_uri, refresh=True)
            token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        JWTClaimsRegistry(
            leeway=LEEWAY_S,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        log.warning("ID token from %s refused: %s", provider.name, type(exc).__name__)
        raise OidcError(
            "The identity provider's answer could not be verified. Start again."
        ) from None
    claims = dict(token.claims)
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != provider.client_id:
        raise OidcError("The identity provider's answer was issued for another application.")
    if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
        raise OidcError("The identity provider's answer has no usable subject.")
    return claims


def finish(
    provider: OidcProvider, code: str, redirect_uri: str, verifier: str, nonce: str
) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and return the checked ID token's claims."""
    id_token = _token_reply(provider, code, redirect_uri, verifier)
    return validate_id_token(provider, id_token, nonce)
