"""Online rotation of the encryption key, and the check that finds rows that do not decrypt."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import Credential
from webapp.services.credentials import crypto
from webapp.services.credentials import rotation as key_rotation
from webapp.services.credentials import storage as credentials

V1 = crypto.generate_entry("v1")
V2 = crypto.generate_entry("v2")


def use_keys(app, spec: str) -> crypto.KeyRing:  # type: ignore[no-untyped-def]
    ring = crypto.parse_keys(spec)
    app.extensions[crypto.EXTENSION] = ring
    return ring


def _keys(member, n: int) -> list[Credential]:  # type: ignore[no-untyped-def]
    return [
        factories.user_key(member, "openai", f"sk-rotate-{i:04d}-secret", label=f"k{i}")
        for i in range(n)
    ]


def _plaintexts() -> dict[int, str]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Credential).order_by(Credential.id))
    return {c.id: credentials.decrypt_secret(c) for c in rows}


def test_rows_written_under_an_old_key_decrypt_after_a_new_key_is_added(app, member):
    use_keys(app, V1)
    created = _keys(member, 3)
    use_keys(app, f"{V2},{V1}")
    assert _plaintexts() == {c.id: f"sk-rotate-{i:04d}-secret" for i, c in enumerate(created)}


def test_rotate_then_remove_the_old_key(app, member):
    use_keys(app, V1)
    _keys(member, 7)
    before = _plaintexts()
    use_keys(app, f"{V2},{V1}")
    report = key_rotation.rotate_all(batch_size=3)
    assert (report.scanned, report.rotated, report.already_current) == (7, 7, 0)
    assert report.failed_ids == []
    use_keys(app, V2)  # the old key is gone
    assert _plaintexts() == before
    assert all(
        c.startswith("v2:") for c in db.session.scalars(sa.select(Credential.secret_ciphertext))
    )
    again = key_rotation.rotate_all()
    assert (again.rotated, again.already_current) == (0, 7)


def test_rotation_keeps_versions_and_timestamps(app, member):
    use_keys(app, V1)
    key = _keys(member, 1)[0]
    version, updated = key.version, key.updated_at
    use_keys(app, f"{V2},{V1}")
    key_rotation.rotate_all()
    db.session.expire_all()
    assert key.version == version and key.updated_at == updated


def test_an_interrupted_rotation_continues_when_run_again(app, member):
    use_keys(app, V1)
    _keys(member, 6)
    use_keys(app, f"{V2},{V1}")

    def stop_after_first_batch(report):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        key_rotation.rotate_all(batch_size=2, on_batch=stop_after_first_batch)
    versions = [c[:2] for c in db.session.scalars(sa.select(Credential.secret_ciphertext))]
    assert sorted(versions) == ["v1"] * 4 + ["v2"] * 2
    report = key_rotation.rotate_all(batch_size=2)
    assert (report.rotated, report.already_current) == (4, 2)


def test_a_ciphertext_moved_to_another_row_is_rejected(app, member, runner):
    use_keys(app, V1)
    a, b = _keys(member, 2)
    db.session.execute(
        sa.update(Credential)
        .where(Credential.id == b.id)
        .values(secret_ciphertext=a.secret_ciphertext)
    )
    db.session.commit()
    db.session.expire_all()
    with pytest.raises(crypto.DecryptionError):
        credentials.decrypt_secret(b)
    result = runner.invoke(args=["encryption-keys", "check"])
    assert result.exit_code == 1
    assert f"credential {b.id}:" in result.output and "undecryptable=1" in result.output
    assert "sk-rotate" not in result.output


@pytest.mark.committed
def test_a_concurrent_edit_is_never_overwritten_by_rotation(app, member):
    use_keys(app, V1)
    key = _keys(member, 1)[0]
    ring = use_keys(app, f"{V2},{V1}")
    real_encrypt = ring.encrypt
    fresh = real_encrypt("sk-edited-meanwhile", credentials.credential_aad(key))

    def edit_then_encrypt(plaintext, aad):  # type: ignore[no-untyped-def]
        with db.engine.begin() as other:  # another process saves a new key for this row
            other.execute(
                sa.update(Credential.__table__)
                .where(Credential.__table__.c.id == key.id)
                .values(secret_ciphertext=fresh)
            )
        return real_encrypt(plaintext, aad)

    object.__setattr__(ring, "encrypt", edit_then_encrypt)
    report = key_rotation.rotate_all()
    assert (report.rotated, report.changed_meanwhile) == (0, 1)
    db.session.expire_all()
    assert credentials.decrypt_secret(db.session.get(Credential, key.id)) == "sk-edited-meanwhile"


@pytest.mark.committed
def test_the_app_keeps_writing_while_rotation_runs(app, member):
    use_keys(app, V1)
    keys = _keys(member, 60)
    use_keys(app, f"{V2},{V1}")
    errors: list[BaseException] = []

    def rotate() -> None:
        with app.app_context():
            try:
                key_rotation.rotate_all(batch_size=5)
            except BaseException as exc:
                errors.append(exc)

    worker = threading.Thread(target=rotate)
    worker.start()
    edited = {}
    for key in keys[::6]:
        credentials.update_credential(
            member,
            db.session.get(Credential, key.id),
            credentials.CredentialInput(label=key.label, secret=f"sk-new-{key.id}-value"),
            None,
        )
        edited[key.id] = f"sk-new-{key.id}-value"
    worker.join(timeout=60)
    assert not worker.is_alive() and errors == []
    key_rotation.rotate_all()  # finishes rows written under v1 while it ran, if any
    use_keys(app, V2)
    plain = _plaintexts()
    for key_id, secret in edited.items():
        assert plain[key_id] == secret  # no edit was lost
    assert len(plain) == 60


def test_rotate_command_prints_counts(app, member, runner):
    use_keys(app, V1)
    _keys(member, 2)
    use_keys(app, f"{V2},{V1}")
    result = runner.invoke(args=["encryption-keys", "rotate", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "rotating to key v2" in result.output
    assert "scanned=2 rotated=2 already_current=0" in result.output
    result = runner.invoke(args=["encryption-keys", "check"])
    assert result.exit_code == 0 and "v2=2" in result.output
