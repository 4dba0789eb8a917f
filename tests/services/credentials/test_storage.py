"""Credentials at three scopes through one service: validation, permissions, audit."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, Credential
from webapp.services.credentials import storage as svc
from webapp.services.credentials.storage import CredentialInput
from webapp.services.errors import Conflict, NotFound, ValidationError

SECRET = "sk-proj-SERVICE-TEST-abcd"


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) or 0


def test_keys_at_three_scopes_encrypted_and_masked(app, admin, member):
    org = factories.make_org("acme")
    made = [
        svc.create_credential(
            admin, svc.GLOBAL, factories.provider("openai").id, CredentialInput(secret=SECRET)
        ),
        svc.create_credential(
            admin,
            svc.org_owner(org.id),
            factories.provider("openai").id,
            CredentialInput(secret=SECRET + "1"),
        ),
        svc.create_credential(
            member,
            svc.user_owner(member.id),
            factories.provider("openai").id,
            CredentialInput(secret=SECRET + "2"),
        ),
    ]
    assert [c.scope for c in made] == ["global", "org", "user"]
    for credential in made:
        assert SECRET not in credential.secret_ciphertext
        assert svc.decrypt_secret(credential).startswith(SECRET)
        assert credential.masked == f"•••• set (…{credential.secret_hint})"  # as pages show
        assert SECRET not in repr(credential)
    assert made[0].secret_hint == "abcd"


def test_several_labelled_keys_per_provider_but_labels_are_unique(app, member):
    owner, openai = svc.user_owner(member.id), factories.provider("openai").id
    svc.create_credential(member, owner, openai, CredentialInput(label="work", secret=SECRET))
    svc.create_credential(member, owner, openai, CredentialInput(label="home", secret=SECRET))
    with pytest.raises(ValidationError) as excinfo:
        svc.create_credential(member, owner, openai, CredentialInput(label="work", secret=SECRET))
    assert "label" in excinfo.value.errors
    assert _count() == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (CredentialInput(secret=""), "secret"),
        (CredentialInput(secret="short"), "secret"),
        (CredentialInput(secret="sk-has space-inside"), "secret"),
        (CredentialInput(secret=SECRET, label="x" * 101), "label"),
        (CredentialInput(secret=SECRET, expires_on=date.today() - timedelta(days=2)), "expires_on"),
        (CredentialInput(secret=SECRET, base_url="http://192.168.0.10/v1"), "base_url"),
        (CredentialInput(secret=SECRET, base_url="ftp://example.com"), "base_url"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(app, member, data, field):
    with pytest.raises(ValidationError) as excinfo:
        svc.create_credential(
            member, svc.user_owner(member.id), factories.provider("openai").id, data
        )
    assert field in excinfo.value.errors
    assert "sk-has space" not in excinfo.value.message
    assert _count() == 0


def test_users_may_only_add_keys_for_enabled_providers(app, member, admin):
    lmstudio = factories.provider("lmstudio")  # disabled preset
    with pytest.raises(ValidationError) as excinfo:
        svc.create_credential(
            member, svc.user_owner(member.id), lmstudio.id, CredentialInput(secret=SECRET)
        )
    assert "provider_id" in excinfo.value.errors
    svc.create_credential(
        admin, svc.GLOBAL, lmstudio.id, CredentialInput(secret=SECRET)
    )  # admins may


def test_empty_key_on_edit_keeps_the_stored_key(app, member):
    key = factories.user_key(member, "openai", SECRET)
    svc.update_credential(member, key, CredentialInput(label="renamed", secret=""), key.version)
    assert svc.decrypt_secret(key) == SECRET and key.label == "renamed"


def test_new_key_on_edit_replaces_it_and_resets_the_test_status(app, member):
    key = factories.user_key(member, "openai", SECRET)
    svc.record_test(key.id, "ok", None)
    db.session.refresh(key)
    svc.update_credential(
        member, key, CredentialInput(secret="sk-replacement-key-WXYZ"), key.version
    )
    assert svc.decrypt_secret(key) == "sk-replacement-key-WXYZ"
    assert key.secret_hint == "WXYZ" and key.last_test_status == "unknown"


def test_a_stale_form_gets_a_conflict(app, member):
    key = factories.user_key(member, "openai", SECRET)
    stale = key.version
    svc.update_credential(member, key, CredentialInput(label="first"), stale)
    with pytest.raises(Conflict, match="Someone else changed"):
        svc.update_credential(member, key, CredentialInput(label="second"), stale)
    db.session.refresh(key)
    assert key.label == "first"


def test_bookkeeping_does_not_bump_the_version(app, member):
    key = factories.user_key(member, "openai", SECRET)
    version, updated_at = key.version, key.updated_at
    svc.record_test(key.id, "ok", "fine")
    assert key.last_test_status == "ok"  # the session's copy was refreshed
    assert key.version == version and key.updated_at == updated_at


def test_nobody_touches_another_owners_keys(app, member, admin):
    other = factories.make_user("other@example.com")
    key = factories.user_key(other, "openai", SECRET)
    with pytest.raises(NotFound):
        svc.get_credential(member, svc.user_owner(other.id), key.id)
    with pytest.raises(NotFound):  # right id, wrong owner
        svc.get_credential(member, svc.user_owner(member.id), key.id)
    with pytest.raises(NotFound):  # admins manage global and org keys, not personal ones
        svc.get_credential(admin, svc.user_owner(other.id), key.id)
    with pytest.raises(NotFound):
        svc.create_credential(
            member,
            svc.user_owner(other.id),
            factories.provider("openai").id,
            CredentialInput(secret=SECRET),
        )


def test_org_admins_manage_their_own_org_only(app, member):
    acme, globex = factories.make_org("acme"), factories.make_org("globex")
    factories.add_member(acme, member, "org_admin")
    openai = factories.provider("openai").id
    key = svc.create_credential(
        member, svc.org_owner(acme.id), openai, CredentialInput(secret=SECRET)
    )
    assert svc.get_credential(member, svc.org_owner(acme.id), key.id) == key
    with pytest.raises(NotFound):
        svc.create_credential(
            member, svc.org_owner(globex.id), openai, CredentialInput(secret=SECRET)
        )
    other = factories.org_key(globex, "openai", SECRET)
    with pytest.raises(NotFound):
        svc.get_credential(member, svc.org_owner(globex.id), other.id)
    with pytest.raises(NotFound):
        svc.create_credential(member, svc.GLOBAL, openai, CredentialInput(secret=SECRET))


def test_plain_org_members_cannot_manage_org_keys(app, member):
    acme = factories.make_org("acme")
    factories.add_member(acme, member, "member")
    with pytest.raises(NotFound):
        svc.create_credential(
            member,
            svc.org_owner(acme.id),
            factories.provider("openai").id,
            CredentialInput(secret=SECRET),
        )


def test_every_change_is_audited_without_the_secret(app, member):
    key = factories.user_key(member, "openai", SECRET)
    svc.update_credential(
        member, key, CredentialInput(label="renamed", secret="sk-second-value-9999"), key.version
    )
    svc.delete_credential(member, key)
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.target_type == "credential").order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["create", "update", "delete"]
    assert [e.diff["secret"] for e in events] == ["[set]", "[changed]", "[removed]"]
    assert events[1].diff["label"] == {"before": "default", "after": "renamed"}
    assert all(e.actor_id == member.id for e in events)
    dumped = json.dumps([e.diff for e in events]) + " ".join(e.target_label or "" for e in events)
    assert SECRET not in dumped and "sk-second-value" not in dumped and "9999" not in dumped


def test_expiry_is_through_the_chosen_day(app, member):
    day = date.today() + timedelta(days=3)
    key = factories.user_key(member, "openai", SECRET, expires_on=day)
    assert key.expires_at.date() == day + timedelta(days=1)
    assert (key.expires_at.hour, key.expires_at.minute) == (0, 0)
