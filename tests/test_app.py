"""The application factory, health check, configuration and base pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import login, make_app
from webapp.config import ConfigError, load_config


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": "ok",
        "schema": "current",
        "encryption_keys": "ok",
    }


def test_healthz_is_503_when_database_is_unreachable(instance_path: Path):
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", instance_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "unreachable",
        "schema": "unknown",
        "encryption_keys": "unchecked",
        "details": ["The database is unreachable."],
    }


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_config(tmp_path, {"SWITCHBOARD_ENV": "production"})


def test_development_generates_secret_key_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(tmp_path, {})["SECRET_KEY"]
    second = load_config(tmp_path, {})["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_unknown_environment_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="SWITCHBOARD_ENV"):
        load_config(tmp_path, {"SWITCHBOARD_ENV": "staging"})


def test_postgres_urls_use_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/switchboard")
    assert (
        load_config(tmp_path, {})["SQLALCHEMY_DATABASE_URI"]
        == "postgresql+psycopg://u@db/switchboard"
    )


def test_database_pool_is_sized_from_the_environment(tmp_path, monkeypatch):
    def pool() -> tuple[int, int]:
        options = load_config(tmp_path, {})["SQLALCHEMY_ENGINE_OPTIONS"]
        return options["pool_size"], options["max_overflow"]

    assert pool() == (16, 4)
    monkeypatch.setenv("SWITCHBOARD_DB_POOL_SIZE", "30")
    monkeypatch.setenv("SWITCHBOARD_DB_MAX_OVERFLOW", "0")
    assert pool() == (30, 0)
    for name, bad in [("SWITCHBOARD_DB_POOL_SIZE", "0"), ("SWITCHBOARD_DB_MAX_OVERFLOW", "-1")]:
        monkeypatch.setenv(name, bad)
        with pytest.raises(ConfigError, match=name):
            load_config(tmp_path, {})
        monkeypatch.setenv(name, "5")


def test_session_cookie_is_httponly_and_samesite(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_cookies_are_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    config = load_config(tmp_path, {"SWITCHBOARD_ENV": "production"})
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True


def test_security_headers_on_every_response(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_404_page_in_the_apps_own_look(admin_client):
    response = admin_client.get("/no-such-page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "404 · Not found" in body and "Switchboard" in body and 'id="main"' in body


def test_404_for_htmx_is_a_notice_not_a_page(admin_client):
    response = admin_client.get("/no-such-page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert "<html" not in response.get_data(as_text=True)
    assert '"notice"' in response.headers["HX-Trigger"]


def test_500_page_hides_the_error(app, admin, monkeypatch):
    def boom():  # pragma: no cover - exercised through the client
        raise RuntimeError("internal detail that must not be shown")

    # The app is shared and has served requests: swap a view instead of adding a route.
    monkeypatch.setitem(app.view_functions, "main.home", boom)
    response = login(app.test_client(), admin.email).get("/")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "internal detail" not in body


def test_403_page_for_a_member_on_an_admin_page(member_client):
    response = member_client.get("/admin/providers")
    assert response.status_code == 403
    assert "403 · Not allowed" in response.get_data(as_text=True)


def test_pages_vendor_htmx_and_pico_locally(admin_client):
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    assert "/static/vendor/htmx/htmx.min.js" in body
    assert "/static/vendor/pico/pico.min.css" in body
    assert "https://" not in body.split("<body")[0]  # no CDN in <head>


def test_csrf_token_header_is_set_on_body_for_htmx(admin_client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_starting_the_app_does_not_import_the_anthropic_sdk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The largest import (about 40 MB per worker) waits for the first Anthropic call."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\nfrom webapp import create_app\n"
        "create_app({'SEED_ON_START': False})\nprint('anthropic' in sys.modules)"
    )
    env = {**os.environ, "SWITCHBOARD_INSTANCE_PATH": str(tmp_path)}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr[-2000:]
