"""``flask credentials import-env``: provider keys from the environment into encrypted
global keys — a masked dry run, ``--apply``, and nothing twice."""

from __future__ import annotations

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AuditEvent, Credential, Provider, Scope
from webapp.services.credentials import storage

OPENAI = "sk-env-openai-0123456789abcdefWXYZ"
ANTHROPIC = "sk-ant-env-0123456789abcdefQRST"
ENV_VARS = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "XAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "GITHUB_TOKEN",
    "OPENROUTER_API_KEY",
]


def _env(monkeypatch, **values: str) -> None:  # type: ignore[no-untyped-def]
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _global_keys() -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Credential).where(Credential.scope == Scope.GLOBAL))
    return {f"{c.provider.slug}/{c.label}": storage.decrypt_secret(c) for c in rows}


def test_dry_run_lists_masked_keys_and_stores_nothing(app, runner, monkeypatch):
    _env(monkeypatch, OPENAI_API_KEY=OPENAI, ANTHROPIC_API_KEY=ANTHROPIC)
    result = runner.invoke(args=["credentials", "import-env"])
    assert result.exit_code == 0, result.output
    assert "would import: OPENAI_API_KEY (••••…WXYZ) -> global key openai/from OPENAI_API_KEY" in (
        result.output
    )
    assert "ANTHROPIC_API_KEY (••••…QRST)" in result.output
    assert "2 key(s) would be imported" in result.output
    assert OPENAI not in result.output and ANTHROPIC not in result.output
    assert _global_keys() == {}


def test_apply_stores_encrypted_global_keys_audited_and_is_idempotent(app, runner, monkeypatch):
    _env(monkeypatch, OPENAI_API_KEY=OPENAI)
    result = runner.invoke(args=["credentials", "import-env", "--apply"])
    assert result.exit_code == 0, result.output
    assert "imported: OPENAI_API_KEY" in result.output
    assert "remove the variables" in result.output
    assert _global_keys() == {"openai/from OPENAI_API_KEY": OPENAI}
    stored = db.session.scalar(sa.select(Credential).where(Credential.scope == Scope.GLOBAL))
    assert OPENAI not in stored.secret_ciphertext
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.target_type == "credential", AuditEvent.action == "create"
        )
    )
    assert event is not None and event.actor_label == "system"
    assert event.diff["secret"] == "[set]" and OPENAI not in str(event.diff)

    again = runner.invoke(args=["credentials", "import-env", "--apply"])
    assert again.exit_code == 0, again.output
    assert "skipped: OPENAI_API_KEY (••••…WXYZ)" in again.output and "already stored" in (
        again.output
    )
    assert "0 key(s) imported" in again.output
    assert len(_global_keys()) == 1


def test_a_key_stored_by_hand_under_another_label_is_skipped(app, runner, monkeypatch, admin):
    provider = db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))
    storage.create_credential(
        admin, storage.GLOBAL, provider.id, storage.CredentialInput(label="main", secret=OPENAI)
    )
    _env(monkeypatch, OPENAI_API_KEY=OPENAI)
    result = runner.invoke(args=["credentials", "import-env", "--apply"])
    assert "skipped: OPENAI_API_KEY" in result.output and "openai/main" in result.output
    assert _global_keys() == {"openai/main": OPENAI}


def test_a_paused_environment_key_is_not_imported(app, runner, monkeypatch):
    provider = db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))
    provider.env_key_origin = "https://old.example.com:443"
    db.session.commit()
    _env(monkeypatch, OPENAI_API_KEY=OPENAI)
    result = runner.invoke(args=["credentials", "import-env", "--apply"])
    assert result.exit_code == 1
    assert "refused: OPENAI_API_KEY" in result.output and "paused" in result.output
    assert _global_keys() == {}


def test_nothing_set_says_so(app, runner, monkeypatch):
    _env(monkeypatch)
    result = runner.invoke(args=["credentials", "import-env"])
    assert result.exit_code == 0
    assert "nothing to import" in result.output
