"""Start-up: workers starting together on a fresh database, configuration errors as one line,
no "healthy" before the schema is migrated, encryption keys checked against stored secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from tests import factories
from tests.conftest import login, make_app
from tests.security.databases import fresh_database
from webapp.extensions import db
from webapp.services.catalog.seed_data import PROVIDERS
from webapp.services.credentials import crypto
from webapp.services.system import health as health_module

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
ADMIN_EMAIL = "boss@example.com"
# Each process imports everything, says it is ready, and starts the app when told to, so the
# start-up work of all of them really runs at the same moment.
WORKER = """
import sys, time
from pathlib import Path
import webapp, webapp.models, webapp.services.catalog.seed, webapp.services.system.startup
here = Path(sys.argv[1])
(here / f"ready-{sys.argv[2]}").touch()
while not (here / "go").exists():
    time.sleep(0.01)
from webapp import create_app
app = create_app()
ring = app.extensions["switchboard.keyring"]
print("secret", app.config["SECRET_KEY"])
print("sealed", ring.encrypt("same key everywhere", b"startup-test"))
"""


def migrated(url: str, instance: Path, revision: str = "head") -> None:
    app = make_app(url, instance)
    with app.app_context():
        upgrade(revision=revision)
        db.engine.dispose()


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SWITCHBOARD_") and k not in ("SECRET_KEY", "DATABASE_URL")
    }
    return {**env, **extra}


def start_together(env: dict[str, str], workdir: Path) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(workdir), str(n)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    deadline = time.monotonic() + 120
    while len(list(workdir.glob("ready-*"))) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.05)
    (workdir / "go").touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.mark.committed
def test_workers_starting_together_on_a_fresh_database_all_start(tmp_path):
    """Before: one of them died with "A user with this email already exists"."""
    instance = tmp_path / "instance"  # does not exist yet: the secrets are generated too
    with fresh_database(tmp_path) as url:
        migrated(url, tmp_path / "migrating")
        env = clean_env(
            DATABASE_URL=url,
            SWITCHBOARD_INSTANCE_PATH=str(instance),
            SWITCHBOARD_ADMIN_EMAIL=ADMIN_EMAIL,
            SWITCHBOARD_ADMIN_PASSWORD="a-long-enough-password",
        )
        results = start_together(env, tmp_path)
        for result in results:
            assert result.returncode == 0, result.stderr[-3000:]
            assert "Traceback" not in result.stderr
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            admins = conn.scalars(sa.text("SELECT email FROM users WHERE role = 'admin'")).all()
            providers = conn.scalar(sa.text("SELECT count(*) FROM providers"))
            global_sets = conn.scalar(
                sa.text("SELECT count(*) FROM parameter_sets WHERE scope = 'global'")
            )
        engine.dispose()
    assert admins == [ADMIN_EMAIL]
    assert providers == len(PROVIDERS) and global_sets == 1
    # The generated secrets are one pair that every worker uses, not one per worker.
    secrets = {line for r in results for line in r.stdout.splitlines() if line.startswith("sec")}
    assert len(secrets) == 1
    ring = crypto.parse_keys((instance / "encryption_keys").read_text())
    for result in results:
        sealed = next(line for line in result.stdout.splitlines() if line.startswith("sealed"))
        assert ring.decrypt(sealed.split(" ", 1)[1], b"startup-test") == "same key everywhere"


def run_launcher(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        env=clean_env(SWITCHBOARD_INSTANCE_PATH=str(tmp_path / "instance"), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_invalid_admin_email_is_one_line_and_status_1_under_flask(tmp_path):
    result = run_launcher(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", "1"],
        tmp_path,
        SWITCHBOARD_ADMIN_EMAIL="not-an-email",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "Error: Switchboard cannot start: SWITCHBOARD_ADMIN_EMAIL is not a valid email address: "
        "An email address must have an @-sign."
    ]


@pytest.mark.parametrize("preload", [False, True], ids=["workers", "preload"])
def test_invalid_admin_email_stops_gunicorn_with_one_line(tmp_path, preload):
    """The master checks the configuration before forking (gunicorn.conf.py's on_starting),
    so with or without --preload the reason is one line and the status 1."""
    args = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:0"]
    result = run_launcher(
        [*args, *(["--preload"] if preload else []), "wsgi:app"],
        tmp_path,
        SWITCHBOARD_ADMIN_EMAIL="not-an-email",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    reason = "Switchboard cannot start: SWITCHBOARD_ADMIN_EMAIL is not a valid email address"
    assert reason in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "[INFO]" not in line]
    assert len(lines) == 1, lines  # gunicorn's own start-up notice aside


def test_behind_schema_is_not_healthy_and_pages_show_maintenance(tmp_path):
    with fresh_database(tmp_path) as url:
        migrated(url, tmp_path, revision="0001_initial")
        app = make_app(url, tmp_path)
        client = app.test_client()
        response = client.get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "unavailable"
        assert body["database"] == "ok" and body["schema"] == "behind"
        assert "0001_initial" in body["details"][0] and "db upgrade" in body["details"][0]
        for path in ("/login", "/admin/providers", "/no-such-page"):
            page = client.get(path)
            assert page.status_code == 503 and page.headers["Retry-After"]
            assert "being upgraded" in page.get_data(as_text=True)
        with app.app_context():
            upgrade()
            health_module.health().schema.get(fresh=True)  # as a few seconds later
        assert client.get("/login").status_code == 200
        assert client.get("/healthz").status_code == 200
        with app.app_context():
            db.engine.dispose()


def test_pages_consult_a_cached_schema_state_not_the_database(app, client):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "FROM alembic_version" in statement:  # one per load of the schema state
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert client.get("/login").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 1, statements


def test_cached_state_expires_after_a_few_seconds(app, monkeypatch):
    now = [1000.0]
    cached = health_module.Cached(lambda: now[0], ttl=5.0, clock=lambda: now[0])
    first = cached.get()
    now[0] += 4.9
    assert cached.get() == first
    now[0] += 0.2
    assert cached.get() == now[0]


@pytest.mark.committed
def test_missing_key_version_is_named_with_its_row_count(app, database_url, caplog):
    factories.global_key("openai", "sk-stored-under-v1-000000001")
    factories.global_key("anthropic", "sk-stored-under-v1-000000002")
    admin = factories.make_user("keys-admin@example.com", role="admin")
    other_ring = crypto.parse_keys(crypto.generate_entry("v2"))
    restarted = make_app(database_url, Path(app.instance_path), ENCRYPTION_KEYRING=other_ring)
    version = app.extensions[crypto.EXTENSION].current
    problem = f"2 stored provider key(s) are encrypted with key version {version}"
    assert any(problem in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    client = restarted.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["encryption_keys"] == "missing"
    assert any(problem in line for line in health.get_json()["details"])
    page = login(client, admin.email).get("/admin/providers").get_data(as_text=True)
    assert "Stored keys cannot be decrypted." in page and problem in page


@pytest.mark.committed
def test_wrong_key_under_a_listed_version_is_caught_on_a_sample_row(app, database_url, caplog):
    key = factories.global_key("openai", "sk-stored-under-v1-000000003")
    version = app.extensions[crypto.EXTENSION].current
    impostor = crypto.parse_keys(crypto.generate_entry(version))
    make_app(database_url, Path(app.instance_path), ENCRYPTION_KEYRING=impostor)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(f"credential {key.id} cannot be decrypted" in e for e in errors)
    assert any(f"Key version {version} in SWITCHBOARD_ENCRYPTION_KEYS" in e for e in errors)
    assert not any(key.secret_ciphertext in e or "sk-stored" in e for e in errors)


@pytest.mark.parametrize("byte", [0, 7, 255])
def test_degenerate_encryption_keys_are_refused(byte):
    import base64

    entry = "v1:" + base64.b64encode(bytes([byte]) * 32).decode()
    with pytest.raises(crypto.ConfigError, match="is not a random key"):
        crypto.parse_keys(entry)
    with pytest.raises(crypto.ConfigError, match=r"entry 2 \(v0\)"):
        crypto.parse_keys(crypto.generate_entry("v1") + "," + entry.replace("v1", "v0"))


def test_decryption_failures_are_logged_with_the_row_id_only(app, caplog):
    from webapp.services.credentials.resolution import key_from_credential
    from webapp.services.errors import NotConfigured

    first = factories.global_key("openai", "sk-first-secret-0000000001")
    second = factories.global_key("anthropic", "sk-second-secret-000000002")
    second.secret_ciphertext = first.secret_ciphertext  # copied onto another row
    db.session.commit()
    with pytest.raises(NotConfigured):
        key_from_credential(second)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(f"credential {second.id}" in e for e in errors)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert first.secret_ciphertext not in text and "sk-first" not in text
