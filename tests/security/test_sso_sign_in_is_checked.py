"""Single sign-on accepts only an answer it can verify: the ID token's signature (JWKS), issuer,
audience, expiry and nonce, the state of this browser's own round trip, and the PKCE verifier.
Every refusal is a 4xx that starts no session and creates no account."""

from __future__ import annotations

import base64
import json
import time

import pytest
import sqlalchemy as sa

from tests.fake_oidc import Login, begin, callback_path, provider_for, sso_sign_in
from webapp.extensions import db
from webapp.models import SsoIdentity, User


@pytest.fixture
def corp(app, fake_oidc, monkeypatch):  # type: ignore[no-untyped-def]
    provider = provider_for(fake_oidc, "corp")
    monkeypatch.setitem(app.config, "OIDC_PROVIDERS", (provider,))
    return provider


def _nobody_signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    with client.session_transaction() as session:
        signed_in = bool(session.get("_user_id"))
    accounts = db.session.scalar(sa.select(sa.func.count()).where(User.email == "ann@corp.example"))
    identities = db.session.scalar(sa.select(sa.func.count()).select_from(SsoIdentity))
    return not signed_in and not accounts and not identities


def _ann(**changes) -> Login:  # type: ignore[no-untyped-def]
    return Login(sub="ann-1", email="ann@corp.example", **changes)


@pytest.mark.parametrize(
    "spoiled",
    [
        pytest.param({"sign_with": "wrong"}, id="bad-signature"),
        pytest.param({"claims": {"aud": "another-client"}}, id="wrong-audience"),
        pytest.param({"claims": {"iss": "https://evil.example"}}, id="wrong-issuer"),
        pytest.param({"claims": {"exp": int(time.time()) - 3600}}, id="expired"),
        pytest.param({"claims": {"nonce": "not-the-nonce-we-sent"}}, id="nonce-mismatch"),
        pytest.param({"claims": {"nonce": ""}}, id="nonce-missing"),
        pytest.param(
            {"claims": {"aud": ["another-client", "switchboard-test"], "azp": "another-client"}},
            id="issued-for-another-party",
        ),
    ],
)
def test_a_token_that_does_not_check_out_is_refused(app, client, corp, fake_oidc, spoiled):
    response = sso_sign_in(client, fake_oidc, _ann(**spoiled))
    assert response.status_code == 400
    assert "could not be verified" in response.get_data(as_text=True) or "another application" in (
        response.get_data(as_text=True)
    )
    assert _nobody_signed_in(client)


def test_an_unsigned_token_is_refused(app, client, corp, fake_oidc, monkeypatch):
    def unsigned(grant):  # type: ignore[no-untyped-def]
        header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        now = int(time.time())
        claims = {
            "iss": fake_oidc.issuer, "sub": "ann-1", "aud": grant.client_id, "iat": now,
            "exp": now + 300, "nonce": grant.nonce, "email": "ann@corp.example",
            "email_verified": True,
        }  # fmt: skip
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{header}.{body}."

    monkeypatch.setattr(fake_oidc, "id_token", unsigned)
    response = sso_sign_in(client, fake_oidc, _ann())
    assert response.status_code == 400 and _nobody_signed_in(client)


def test_a_state_that_is_not_ours_is_refused(app, client, corp, fake_oidc):
    fake_oidc.next_login = _ann()
    back = callback_path(fake_oidc.authorize(begin(client, "corp")))
    code = back.split("code=")[1].split("&")[0]
    response = client.get(f"/login/sso/corp/callback?code={code}&state=forged-state")
    assert response.status_code == 400 and _nobody_signed_in(client)
    # The real state no longer works either: a round trip is used once.
    assert client.get(back).status_code == 400 and _nobody_signed_in(client)


def test_a_callback_in_another_browser_is_refused(app, client, corp, fake_oidc):
    """Login CSRF: an attacker's own code and state, planted in the victim's browser."""
    attacker = app.test_client()
    fake_oidc.next_login = Login(sub="mallory", email="mallory@corp.example")
    back = callback_path(fake_oidc.authorize(begin(attacker, "corp")))
    response = client.get(back)
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert not session.get("_user_id")


def test_a_replayed_callback_is_refused(app, client, corp, fake_oidc):
    fake_oidc.next_login = _ann()
    back = callback_path(fake_oidc.authorize(begin(client, "corp")))
    assert client.get(back).status_code == 303
    client.post("/logout")
    assert client.get(back).status_code == 400


def test_the_pkce_verifier_matches_the_challenge_sent(app, client, corp, fake_oidc):
    assert sso_sign_in(client, fake_oidc, _ann()).status_code == 303
    sent = fake_oidc.authorize_requests[-1]
    exchanged = fake_oidc.token_requests[-1]
    import hashlib

    digest = hashlib.sha256(exchanged["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == sent["code_challenge"]
    assert len(exchanged["code_verifier"]) >= 43


def test_a_provider_error_is_shown_safely(app, client, corp, fake_oidc):
    begin(client, "corp")
    response = client.get("/login/sso/corp/callback?error=access_denied<script>&state=x")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "access_denied" in body and "<script>" not in body


def test_an_unknown_provider_is_404(app, client, corp):
    assert client.get("/login/sso/nope").status_code == 404
    assert client.get("/login/sso/nope/callback?code=a&state=b").status_code == 404


def test_an_unreachable_provider_is_a_clear_502(app, client, monkeypatch, fake_oidc):
    provider = provider_for(fake_oidc, "corp")
    dead = type(provider)(**{**provider.__dict__, "issuer": "http://127.0.0.1:9"})
    monkeypatch.setitem(app.config, "OIDC_PROVIDERS", (dead,))
    response = client.get("/login/sso/corp")
    assert response.status_code == 502
    assert "cannot be reached" in response.get_data(as_text=True)
