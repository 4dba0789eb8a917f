"""A fake OpenID Connect provider: a real HTTP server on loopback serving discovery, JWKS,
``/authorize`` (redirects straight back with a code for the identity the test chose) and
``/token`` (checks the client's secret, the redirect URI and the PKCE verifier, then issues an
RS256 ID token signed with a test key — or a tampered one, when the test asks for it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "switchboard-test"
CLIENT_SECRET = "test-client-secret-not-real"


@dataclass
class Login:
    """Who signs in at the next ``/authorize``, and how the ID token is to be spoiled."""

    sub: str
    email: str | None = None
    email_verified: Any = True
    groups: list[str] | None = None
    name: str | None = None
    sign_with: str = "good"  # "good" or "wrong" (a key the JWKS does not publish)
    claims: dict[str, Any] = field(default_factory=dict)  # overrides: aud, exp, nonce, iss …


@dataclass
class _Grant:
    login: Login
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    method: str | None


class FakeOidc:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
        self.wrong_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
        self.next_login: Login | None = None
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self._grants: dict[str, _Grant] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeOidc:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.next_login = None
        self.authorize_requests.clear()
        self.token_requests.clear()
        self._grants.clear()

    def authorize(self, url: str) -> str:
        """What a browser does at the provider: follow ``url`` and return where it is sent
        back to (the app's callback, with ``code`` and ``state``)."""
        with httpx2.Client(follow_redirects=False, trust_env=False) as client:
            response = client.get(url)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def id_token(self, grant: _Grant) -> str:
        login = grant.login
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": login.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
        }
        for name in ("email", "email_verified", "groups", "name"):
            if getattr(login, name) is not None:
                claims[name] = getattr(login, name)
        claims.update(login.claims)
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.key if login.sign_with == "good" else self.wrong_key
        return jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, key)

    # The endpoints ---------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def do_authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        self.authorize_requests.append(query)
        login, self.next_login = self.next_login, None
        assert login is not None, "the test did not choose who signs in (fake.next_login)"
        code = secrets.token_urlsafe(16)
        self._grants[code] = _Grant(
            login,
            query.get("client_id", ""),
            query.get("redirect_uri", ""),
            query.get("nonce"),
            query.get("code_challenge"),
            query.get("code_challenge_method"),
        )
        back = {"code": code, "state": query.get("state", "")}
        return 302, {"Location": f"{query.get('redirect_uri', '')}?{urlencode(back)}"}

    def do_token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        self.token_requests.append(form)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri or grant.client_id != CLIENT_ID:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if grant.method != "S256" or challenge.decode() != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOidc


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        if parts.path == "/.well-known/openid-configuration":
            self._send(200, fake.discovery())
        elif parts.path == "/jwks":
            self._send(200, fake.jwks())
        elif parts.path == "/authorize":
            status, headers = fake.do_authorize(dict(parse_qsl(parts.query)))
            self._send(status, None, headers)
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        if urlsplit(self.path).path == "/token":
            status, body = fake.do_token(form, self.headers.get("Authorization"))
            self._send(status, body)
        else:
            self._send(404, {"error": "not_found"})


@pytest.fixture(scope="session")
def _fake_oidc_server() -> Iterator[FakeOidc]:
    fake = FakeOidc().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_oidc(_fake_oidc_server: FakeOidc) -> Iterator[FakeOidc]:
    from webapp.services.accounts import oidc

    _fake_oidc_server.reset()
    oidc.clear_caches()
    yield _fake_oidc_server
    _fake_oidc_server.reset()
    oidc.clear_caches()


def provider_for(fake: FakeOidc, name: str = "corp", **settings: Any):  # type: ignore[no-untyped-def]
    """An ``OidcProvider`` pointing at the fake, as the environment would configure it."""
    from webapp.services.accounts.sso_config import OidcProvider

    return OidcProvider(
        name=name,
        label=settings.pop("label", name.title()),
        issuer=fake.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **settings,
    )


def begin(client, name: str = "corp", **params: str) -> str:  # type: ignore[no-untyped-def]
    """Start a sign-in on the app; the provider URL the browser is sent to."""
    response = client.get(f"/login/sso/{name}", query_string=params)
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def callback_path(location: str) -> str:
    """The app-relative part of the provider's redirect back to the app."""
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def sso_sign_in(client, fake: FakeOidc, login: Login, name: str = "corp", **params: str):  # type: ignore[no-untyped-def]
    """The whole round trip, as a browser makes it; the app's answer to the callback."""
    fake.next_login = login
    back = fake.authorize(begin(client, name, **params))
    return client.get(callback_path(back))
