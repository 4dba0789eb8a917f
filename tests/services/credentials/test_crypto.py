"""AES-256-GCM with fresh nonces, row-bound associated data and versioned keys."""

from __future__ import annotations

import base64
import logging

import pytest

from tests.conftest import make_app
from webapp.config import ConfigError
from webapp.services.credentials import crypto

KEY1 = crypto.generate_entry("v1")
KEY2 = crypto.generate_entry("v2")


def test_round_trip_with_version_prefix():
    ring = crypto.parse_keys(KEY1)
    token = ring.encrypt("sk-secret-value", b"row-1")
    assert token.startswith("v1:")
    assert "sk-secret-value" not in token
    assert ring.decrypt(token, b"row-1") == "sk-secret-value"


def test_every_encryption_uses_a_fresh_nonce():
    ring = crypto.parse_keys(KEY1)
    tokens = {ring.encrypt("same", b"aad") for _ in range(50)}
    assert len(tokens) == 50
    nonces = {base64.urlsafe_b64decode(t.split(":", 1)[1])[:12] for t in tokens}
    assert len(nonces) == 50


def test_other_associated_data_does_not_decrypt():
    ring = crypto.parse_keys(KEY1)
    token = ring.encrypt("sk-secret-value", b"row-1")
    with pytest.raises(crypto.DecryptionError) as excinfo:
        ring.decrypt(token, b"row-2")
    assert "sk-secret-value" not in str(excinfo.value)


def test_tampered_ciphertext_does_not_decrypt():
    ring = crypto.parse_keys(KEY1)
    token = ring.encrypt("sk-secret-value", b"row-1")
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt("v1:" + base64.urlsafe_b64encode(bytes(raw)).decode(), b"row-1")
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt("v1:not base64!!", b"row-1")


def test_first_key_encrypts_all_keys_decrypt():
    old = crypto.parse_keys(KEY1)
    token = old.encrypt("sk-old", b"aad")
    ring = crypto.parse_keys(f"{KEY2},{KEY1}")
    assert ring.current == "v2"
    assert ring.decrypt(token, b"aad") == "sk-old"
    assert ring.encrypt("sk-new", b"aad").startswith("v2:")


def test_unknown_key_version_is_reported_without_key_material():
    token = crypto.parse_keys(KEY2).encrypt("sk-x", b"aad")
    with pytest.raises(
        crypto.DecryptionError, match="no configured encryption key has version 'v2'"
    ):
        crypto.parse_keys(KEY1).decrypt(token, b"aad")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is empty"),
        ("nocolon", "must look like"),
        ("bad version!:" + KEY1.split(":")[1], "must look like"),
        ("v1:not-base64***", "exactly 32 bytes"),
        ("v1:" + base64.b64encode(b"short").decode(), "exactly 32 bytes"),
        (f"{KEY1},{KEY1}", "twice"),
    ],
    # The keys are random: fixed ids keep the test ids the same in every pytest-xdist worker.
    ids=["empty", "no-colon", "bad-version", "not-base64", "short", "twice"],
)
def test_malformed_key_configuration_is_a_clear_error(spec, message):
    with pytest.raises(ConfigError, match=message) as excinfo:
        crypto.parse_keys(spec)
    assert KEY1.split(":")[1] not in str(excinfo.value)


def test_malformed_keys_stop_the_start(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEYS", "v1:tooshort")
    with pytest.raises(ConfigError, match="SWITCHBOARD_ENCRYPTION_KEYS entry 1"):
        make_app(database_url, tmp_path)


def test_environment_keys_are_used(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEYS", f"{KEY2}, {KEY1}")
    app = make_app(database_url, tmp_path)
    ring = app.extensions[crypto.EXTENSION]
    assert ring.versions == ("v2", "v1") and not ring.generated
    assert not (tmp_path / "encryption_keys").exists()


def test_first_start_without_keys_generates_one_loudly(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("SWITCHBOARD_ENCRYPTION_KEYS", raising=False)
    with caplog.at_level(logging.WARNING):
        ring = crypto.load_keyring(tmp_path, "development")
    assert ring.generated and ring.current == "v1"
    assert (tmp_path / "encryption_keys").stat().st_mode & 0o777 == 0o600
    assert "Production MUST set SWITCHBOARD_ENCRYPTION_KEYS" in caplog.text
    again = crypto.load_keyring(tmp_path, "development")
    token = ring.encrypt("sk-1", b"a")
    assert again.decrypt(token, b"a") == "sk-1"  # the same key on the next start


def test_production_without_keys_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("SWITCHBOARD_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ConfigError, match="SWITCHBOARD_ENCRYPTION_KEYS is not set"):
        crypto.load_keyring(tmp_path, "production")


def test_admin_sees_a_banner_while_the_key_is_generated(admin_client, app):
    ring = app.extensions[crypto.EXTENSION]
    body = admin_client.get("/").get_data(as_text=True)
    assert ("Development encryption key in use" in body) == ring.generated


def test_keys_generate_prints_a_valid_next_entry(runner):
    result = runner.invoke(args=["encryption-keys", "generate"])
    assert result.exit_code == 0
    entry = result.output.strip()
    ring = crypto.parse_keys(entry)
    assert ring.current == crypto.next_version(runner.app.extensions[crypto.EXTENSION])
    result = runner.invoke(args=["encryption-keys", "generate", "--version", "2027-q1"])
    assert result.output.startswith("2027-q1:")


def test_next_version_counts_up():
    assert crypto.next_version(None) == "v1"
    assert crypto.next_version(crypto.parse_keys(f"{KEY2},{KEY1}")) == "v3"


def test_keys_is_an_alias_of_encryption_keys(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["keys", "generate", "--version", "v9"])
    assert result.exit_code == 0 and result.stdout.startswith("v9:")  # still fit for $(…)
    assert "`keys` is a deprecated alias of `encryption-keys`" in result.stderr
    assert "deprecated alias" in runner.invoke(args=["--help"]).output
    plain = runner.invoke(args=["encryption-keys", "generate", "--version", "v9"])
    assert plain.exit_code == 0 and plain.stderr == ""
