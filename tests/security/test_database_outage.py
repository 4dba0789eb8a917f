"""When the database is down, every page answers 503 with Retry-After (a page, an htmx
notice or JSON), never a 500 — also for a signed-in user whose account cannot be loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login, make_app
from webapp.extensions import db
from webapp.services.system.health import health
from webapp.services.system.schema import SchemaState

HX = {"HX-Request": "true"}


def dead_database_url(tmp_path: Path, database_url: str) -> str:
    """Where the database was, but nothing answers: a closed port, or a vanished folder."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'gone' / 'switchboard.db'}"
    return "postgresql+psycopg://postgres@127.0.0.1:1/switchboard?connect_timeout=2"


@pytest.fixture
def outage(app: Flask, admin, database_url: str, tmp_path: Path) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A signed-in admin's browser talking to an instance whose database just went away."""
    signed_in = login(app.test_client(), admin.email)
    down = make_app(dead_database_url(tmp_path, database_url), Path(app.instance_path))
    with down.app_context():
        # The state cached while the database still answered: the outage began since.
        health().schema.put(SchemaState("current"))
    client = down.test_client()
    cookie = signed_in.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value)
    yield client
    with down.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/admin/providers", "/account", "/", "/admin/audit"])
def test_pages_answer_503_with_retry_after(outage, path):
    response = outage.get(path)
    assert response.status_code == 503, path
    assert response.headers["Retry-After"].isdigit()
    assert "database is not answering" in response.get_data(as_text=True)


def test_posts_answer_503_and_change_nothing(outage):
    response = outage.post("/admin/providers", data={"display_name": "x", "protocol": "openai"})
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_htmx_gets_a_notice_and_api_clients_json(outage):
    response = outage.get("/admin/providers", headers=HX)
    assert response.status_code == 503 and response.headers["HX-Reswap"] == "none"
    assert "database is not answering" in response.headers["HX-Trigger"]
    response = outage.get("/admin/providers", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == 503


def test_sign_in_answers_503(outage):
    response = outage.post("/login", data={"email": "a@example.com", "password": "x" * 12})
    assert response.status_code == 503


def test_health_check_says_why(outage):
    response = outage.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_pages_during_an_outage_seen_at_start_are_503_too(app, database_url, tmp_path):
    """The cached schema state itself says unreachable: the gate answers before any query."""
    down = make_app(dead_database_url(tmp_path, database_url), Path(app.instance_path))
    response = down.test_client().get("/login")
    assert response.status_code == 503 and response.headers["Retry-After"]
    with down.app_context():
        db.engine.dispose()
