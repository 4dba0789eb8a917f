"""Small helpers the account-security tests share: sign in, read and plant cookies."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests import factories

SESSION_COOKIE = "switchboard_session"
REMEMBER_COOKIE = "switchboard_remember"
HX = {"HX-Request": "true"}


def sign_in(
    app: Flask, email: str, password: str = factories.PASSWORD, *, remember: bool = False, **kw: Any
) -> FlaskClient:
    """A new client signed in through the real form (``remember``: "keep me signed in")."""
    client = app.test_client()
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data, **kw)
    assert response.status_code == 303, f"sign-in failed for {email}: {response.status_code}"
    return client


def cookie(client: FlaskClient, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found is not None else None


def client_with(app: Flask, **cookies: str) -> FlaskClient:
    """A fresh client (another browser, or an attacker) holding only these cookies."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def signed_in(client: FlaskClient) -> bool:
    """True when the client reaches the home page rather than the sign-in page."""
    return client.get("/").status_code == 200


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token a page gives this client (its hidden field)."""
    body = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', body)
    assert match, f"no CSRF token on {path}"
    return match.group(1)
