"""The API's ground rules: Bearer tokens only, problem details, no-store, the document."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import Caller, token_for
from webapp.models import TokenScope
from webapp.models.base import utcnow


def _is_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert response.headers["Cache-Control"] == "no-store"
    return body


def test_no_token_is_401_problem(as_anonymous: Caller) -> None:
    response = as_anonymous.get("me")
    _is_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_admin_token_reads_me(as_admin: Caller) -> None:
    response = as_admin.get("me")
    assert response.status_code == 200
    assert response.get_json()["email"] == "admin@example.com"
    assert response.headers["Cache-Control"] == "no-store"
    assert "RateLimit" in response.headers and "RateLimit-Policy" in response.headers


def test_session_cookie_is_not_accepted(admin_client) -> None:  # type: ignore[no-untyped-def]
    """A signed-in browser has no power on /api/v1: no CSRF surface."""
    assert admin_client.get("/api/v1/me").status_code == 401
    response = admin_client.post("/api/v1/orgs", json={"slug": "x", "name": "X"})
    _is_problem(response, 401)


def test_revoked_expired_gateway_tokens_refused(app, admin, as_revoked: Caller) -> None:  # type: ignore[no-untyped-def]
    _is_problem(as_revoked.get("me"), 401)
    expired = token_for(app, admin, expires_at=utcnow() - timedelta(minutes=1))
    _is_problem(expired.get("me"), 401)
    gateway = token_for(app, admin, TokenScope.GATEWAY)
    _is_problem(gateway.get("me"), 403)
    garbage = Caller(app.test_client(), "sb-not-a-real-token")
    _is_problem(garbage.get("me"), 401)


def test_read_only_token_cannot_write(as_read_only: Caller) -> None:
    assert as_read_only.get("providers").status_code == 200
    body = _is_problem(as_read_only.post("orgs", json={"slug": "ro", "name": "RO"}), 403)
    assert "read-only" in body["detail"]


def test_unknown_route_and_method_are_problems(as_admin: Caller) -> None:
    _is_problem(as_admin.get("nothing-here"), 404)
    _is_problem(as_admin.open("PUT", "me"), 405)


def test_body_must_be_a_json_object(as_admin: Caller) -> None:
    response = as_admin.client.post(
        "/api/v1/orgs", data="nope", headers=as_admin.headers({"Content-Type": "text/plain"})
    )
    body = _is_problem(response, 422)
    assert "non_field_errors" in body["errors"]


def test_openapi_document_is_public_and_3_1(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    assert "/api/v1/providers/{provider_id}" in doc["paths"]
    assert "Problem" in doc["components"]["schemas"]


def test_reference_page_uses_vendored_assets(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
