"""0002_hardening on existing data: origins approved for where keys go today, new session
tokens, host-only allowed hosts expanded to the ports in use — and a downgrade that loses
nothing. 0011_env_key_approval: each fallback-key approval kept as the (variable, origin)
pair the data holds."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.security import databases
from tests.security.test_migrations_are_safe import columns, head, revision, tables
from webapp.extensions import db

pytestmark = pytest.mark.committed
fresh_app = databases.fresh_app  # an app on an empty database of its own

NOW = datetime(2026, 11, 1, 12, 0)


def _seed_0001(conn: sa.Connection) -> None:
    """Rows as 0001_initial stored them: a user, providers with and without base URLs, keys
    with and without their own base URL, host-only and host:port allowed hosts."""
    stamps = {"created_at": NOW, "updated_at": NOW, "version": 1}
    conn.execute(
        sa.table(
            "users",
            *(
                sa.column(c)
                for c in [
                    "id",
                    "email",
                    "password_hash",
                    "role",
                    "mode",
                    "active",
                    "session_nonce",
                    "created_at",
                    "updated_at",
                    "version",
                ]
            ),
        ).insert(),
        [
            {
                "id": 1,
                "email": "old@example.com",
                "password_hash": "x",
                "role": "admin",
                "mode": "managed",
                "active": True,
                "session_nonce": "a" * 32,
                **stamps,
            }
        ],
    )
    providers = sa.table(
        "providers",
        *(
            sa.column(c)
            for c in [
                "id",
                "slug",
                "display_name",
                "protocol",
                "base_url",
                "credit_multiplier",
                "enabled",
                "is_preset",
                "created_at",
                "updated_at",
                "version",
            ]
        ),
    )
    common = {"credit_multiplier": 1, "enabled": True, "is_preset": False, **stamps}
    conn.execute(
        providers.insert(),
        [
            {"id": 1, "slug": "openai", "display_name": "OpenAI", "protocol": "openai",
             "base_url": None, **common},
            {"id": 2, "slug": "ollama", "display_name": "Ollama", "protocol": "openai_compatible",
             "base_url": "http://localhost:11434/v1", **common},
            {"id": 3, "slug": "lab", "display_name": "Lab", "protocol": "openai_compatible",
             "base_url": "https://lab.internal/v1", **common},
        ],
    )  # fmt: skip
    credentials = sa.table(
        "credentials",
        *(
            sa.column(c)
            for c in [
                "id",
                "scope",
                "owner_key",
                "provider_id",
                "label",
                "base_url",
                "secret_ciphertext",
                "secret_hint",
                "last_test_status",
                "created_at",
                "updated_at",
                "version",
            ]
        ),
    )
    key = {
        "scope": "global",
        "owner_key": "global",
        "label": "default",
        "secret_hint": "1234",
        "last_test_status": "unknown",
        **stamps,
    }
    conn.execute(
        credentials.insert(),
        [
            {"id": 1, "provider_id": 1, "base_url": None, "secret_ciphertext": "v1:AAAA", **key},
            {"id": 2, "provider_id": 3, "base_url": "https://gpu-box.internal:8443/v1",
             "secret_ciphertext": "v1:BBBB", **key},
        ],
    )  # fmt: skip
    hosts = sa.table("allowed_hosts", *(sa.column(c) for c in ["id", "host", "note", "created_at"]))
    conn.execute(
        hosts.insert(),
        [
            {"id": 1, "host": "localhost", "note": "ollama", "created_at": NOW},
            {"id": 2, "host": "gpu-box.internal", "note": None, "created_at": NOW},
            {"id": 3, "host": "10.0.0.5:8000", "note": "vllm", "created_at": NOW},
            {"id": 4, "host": "quiet.internal", "note": None, "created_at": NOW},
        ],
    )


def test_0002_backfills_origins_tokens_and_host_ports_and_downgrades_without_loss(fresh_app):
    upgrade(revision="0001_initial")
    with db.engine.begin() as conn:
        _seed_0001(conn)
    upgrade(revision="0002_hardening")
    with db.engine.connect() as conn:
        token = conn.scalar(sa.text("SELECT session_token FROM users WHERE id = 1"))
        must_change = conn.scalar(sa.text("SELECT must_change_password FROM users"))
        env_origins = dict(
            conn.execute(sa.text("SELECT slug, env_key_origin FROM providers")).all()
        )
        approved = dict(conn.execute(sa.text("SELECT id, approved_origin FROM credentials")).all())
        hosts = set(conn.execute(sa.text("SELECT host, port FROM allowed_hosts")).all())
        notes = dict(conn.execute(sa.text("SELECT host, note FROM allowed_hosts")).all())
    assert len(token) == 64 and int(token, 16) and token != "a" * 32
    assert not must_change
    assert env_origins == {
        "openai": "https://api.openai.com:443",
        "ollama": "http://localhost:11434",
        "lab": "https://lab.internal:443",
    }
    assert approved == {1: "https://api.openai.com:443", 2: "https://gpu-box.internal:8443"}
    assert hosts == {
        ("localhost", 11434),  # host-only: the port its stored base URL uses
        ("gpu-box.internal", 8443),  # host-only: the port a key's own base URL uses
        ("10.0.0.5", 8000),  # host:port: split
        ("quiet.internal", 80),  # host-only and unused: the two web ports, not every port
        ("quiet.internal", 443),
    }
    assert notes["localhost"] == "ollama" and notes["10.0.0.5"] == "vllm"

    downgrade(revision="0001_initial")
    with db.engine.connect() as conn:
        user = conn.execute(sa.text("SELECT email, session_nonce FROM users")).one()
        urls = dict(conn.execute(sa.text("SELECT slug, base_url FROM providers")).all())
        keys = dict(conn.execute(sa.text("SELECT id, secret_ciphertext FROM credentials")).all())
        entries = set(conn.scalars(sa.text("SELECT host FROM allowed_hosts")))
    assert user.email == "old@example.com" and len(user.session_nonce) == 32
    assert urls == {
        "openai": None,
        "ollama": "http://localhost:11434/v1",
        "lab": "https://lab.internal/v1",
    }
    assert keys == {1: "v1:AAAA", 2: "v1:BBBB"}
    assert entries == {
        "localhost:11434",
        "gpu-box.internal:8443",
        "10.0.0.5:8000",
        "quiet.internal:80",
        "quiet.internal:443",
    }
    assert "org_invitations" not in tables() and "approved_origin" not in columns("credentials")
    upgrade()  # and forward again
    assert revision() == {head()}


def test_0011_keeps_each_fallback_key_approval_as_the_pair_the_data_holds(fresh_app):
    upgrade(revision="0010_usage_cubes")
    providers = sa.table(
        "providers",
        *(
            sa.column(c)
            for c in [
                "id", "slug", "display_name", "protocol", "base_url", "api_key_env",
                "env_key_origin", "credit_multiplier", "enabled", "is_preset", "created_at",
                "updated_at", "version",
            ]
        ),
    )  # fmt: skip
    common = {"credit_multiplier": 1, "enabled": True, "is_preset": False, "version": 1}
    common |= {"created_at": NOW, "updated_at": NOW, "protocol": "openai_compatible"}
    rows = [
        # approved today: the variable it names now is approved with that origin
        ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "https://api.mistral.ai:443"),
        # an origin approved, no variable: nothing to carry over
        ("lab", "https://lab.example/v1", None, "https://lab.example:443"),
        # a variable never approved anywhere stays unapproved
        ("new", "https://new.example/v1", "OPENAI_API_KEY", None),
    ]
    with db.engine.begin() as conn:
        conn.execute(
            providers.insert(),
            [
                {"id": i, "slug": s, "display_name": s, "base_url": u, "api_key_env": v,
                 "env_key_origin": o, **common}
                for i, (s, u, v, o) in enumerate(rows, start=1)
            ],
        )  # fmt: skip
    upgrade(revision="0011_env_key_approval")
    query = "SELECT slug, env_key_var, env_key_origin, api_key_env FROM providers"
    with db.engine.connect() as conn:
        pairs = {
            slug: (var, origin, env) for slug, var, origin, env in conn.execute(sa.text(query))
        }
    assert pairs == {
        "mistral": ("MISTRAL_API_KEY", "https://api.mistral.ai:443", "MISTRAL_API_KEY"),
        "lab": (None, "https://lab.example:443", None),
        "new": (None, None, "OPENAI_API_KEY"),
    }
    downgrade(revision="0010_usage_cubes")
    assert "env_key_var" not in columns("providers")
    with db.engine.connect() as conn:
        kept = dict(conn.execute(sa.text("SELECT slug, env_key_origin FROM providers")).all())
    assert kept == {s: o for s, _, _, o in rows}
    upgrade()
    assert revision() == {head()}
