"""The routes that bring the API level with the pages: retention and its prune, billing
settings, allowed hosts, the configuration document, keys paused by a new address, org
invitations, profile settings, users' passwords and sessions, and the throttle on refused
access tokens. Each through the pages' services: audited, 422 with field errors, 409 where
the record is versioned, secrets only where the page shows them once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.api.conftest import Caller, token_for
from tests.gateway.support import make_token
from tests.services.usage import data
from webapp.extensions import db
from webapp.models import AuditEvent, Credential, Membership, OrgInvitation, UsageRecord, User
from webapp.services.accounts import users
from webapp.services.credentials.origins import credential_pause
from webapp.services.tokens.secrets import new_secret

GLOBAL_SECRET = "sk-gaps-global-secret-0000000001"
ENV_SECRET = "sk-gaps-env-secret-0000000002"


def _events(target_type: str, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.target_type == target_type, AuditEvent.action == action
            )
        )
    )


# --- retention ---------------------------------------------------------------------------


def test_retention_read_update_and_prune_audited_with_the_admin(
    as_admin: Caller, admin: User
) -> None:
    assert as_admin.get("retention").get_json() == {"body_days": None, "record_days": None}
    saved = as_admin.patch("retention", json={"body_days": 10, "record_days": 30})
    assert saved.status_code == 200 and saved.get_json() == {"body_days": 10, "record_days": 30}
    kept = as_admin.patch("retention", json={"record_days": 31})  # body_days left out: kept
    assert kept.get_json() == {"body_days": 10, "record_days": 31}
    assert _events("retention", "update")

    bad = as_admin.patch("retention", json={"body_days": 0})
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["body_days"]
    longer = as_admin.patch("retention", json={"body_days": 40})
    assert longer.status_code == 422 and "body_days" in longer.get_json()["errors"]
    typed = as_admin.patch("retention", json={"record_days": "soon"})
    assert typed.status_code == 422 and "record_days" in typed.get_json()["errors"]

    now = datetime.now(UTC)
    data.insert(
        [
            data.record(created_at=now - timedelta(days=age), request_body={"m": 1})
            for age in (1, 20, 45)
        ]
    )
    pruned = as_admin.post("retention/prune")
    assert pruned.status_code == 200
    assert pruned.get_json() == {"bodies_cleared": 2, "records_deleted": 1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageRecord)) == 2
    (event,) = _events("retention", "prune")
    assert event.actor_id == admin.id and event.diff["records_deleted"]["after"] == 1


# --- billing settings --------------------------------------------------------------------


def test_billing_settings_partial_update_field_errors_and_audit(as_admin: Caller) -> None:
    assert as_admin.get("billing").get_json() == {"credits_required": False, "timezone": "UTC"}
    saved = as_admin.patch("billing", json={"credits_required": True})
    assert saved.get_json() == {"credits_required": True, "timezone": "UTC"}
    zone = as_admin.patch("billing", json={"timezone": "Europe/Berlin"})
    assert zone.get_json() == {"credits_required": True, "timezone": "Europe/Berlin"}
    bad = as_admin.patch("billing", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["timezone"]
    assert len(_events("billing", "update")) == 2


# --- allowed hosts -----------------------------------------------------------------------


def test_allowed_hosts_add_list_remove(as_admin: Caller) -> None:
    missing_port = as_admin.post("allowed-hosts", json={"host": "localhost"})
    assert missing_port.status_code == 422 and "host" in missing_port.get_json()["errors"]
    added = as_admin.post("allowed-hosts", json={"host": "localhost:11434", "note": "ollama"})
    assert added.status_code == 201
    entry = added.get_json()
    assert (entry["host"], entry["port"], entry["note"]) == ("localhost", 11434, "ollama")
    assert [h["id"] for h in as_admin.get("allowed-hosts").get_json()] == [entry["id"]]
    assert as_admin.delete(f"allowed-hosts/{entry['id']}").status_code == 204
    assert as_admin.get("allowed-hosts").get_json() == []
    assert as_admin.delete(f"allowed-hosts/{entry['id']}").status_code == 404
    assert _events("allowed_host", "create") and _events("allowed_host", "delete")


# --- the configuration document ----------------------------------------------------------


def test_config_export_holds_no_secret_and_needs_a_full_admin_token(
    app: Flask, admin: User, as_admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_SECRET)
    factories.global_key("openai", GLOBAL_SECRET)
    exported = as_admin.get("config/export")
    assert exported.status_code == 200
    document = exported.get_json()
    assert document["switchboard_config"] == 1
    assert any(p["slug"] == "openai" for p in document["providers"])
    text = exported.get_data(as_text=True)
    assert GLOBAL_SECRET not in text and ENV_SECRET not in text and as_admin.secret not in text
    read_only = token_for(app, admin, "read_only")
    refused = read_only.get("config/export")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert read_only.post("config/import", json={"document": document}).status_code == 403


def test_config_import_dry_run_writes_nothing_then_apply_is_audited(as_admin: Caller) -> None:
    document = as_admin.get("config/export").get_json()
    openai = next(p for p in document["providers"] if p["slug"] == "openai")
    openai["description"] = "Imported by the API"
    preview = as_admin.post("config/import", json={"document": document})
    assert preview.status_code == 200
    plan = preview.get_json()
    assert plan["applied"] is False and plan["counts"]["update"] == {"provider": 1}
    (change,) = plan["changes"]
    assert (change["kind"], change["key"], change["action"]) == ("provider", "openai", "update")
    assert [f["field"] for f in change["fields"]] == ["description"]
    assert factories.provider("openai").description != "Imported by the API"
    assert not _events("config", "import")

    applied = as_admin.post("config/import", json={"document": document, "apply": True})
    assert applied.status_code == 200 and applied.get_json()["applied"] is True
    db.session.expire_all()
    assert factories.provider("openai").description == "Imported by the API"
    assert _events("config", "import")

    again = as_admin.post("config/import", json={"document": json.dumps(document)})  # as text
    assert again.status_code == 200 and again.get_json()["changes"] == []


def test_config_import_errors_are_keyed_by_their_place_in_the_document(
    as_admin: Caller,
) -> None:
    document = as_admin.get("config/export").get_json()
    document["models"][0]["input_price"] = "free"
    wrong = as_admin.post("config/import", json={"document": document, "apply": True})
    assert wrong.status_code == 422
    assert wrong.mimetype == "application/problem+json"
    assert list(wrong.get_json()["errors"]) == ["models[0].input_price"]
    assert not _events("config", "import")
    not_ours = as_admin.post("config/import", json={"document": {"providers": []}})
    assert not_ours.status_code == 422 and "switchboard_config" in not_ours.get_json()["errors"]
    unreadable = as_admin.post("config/import", json={"document": "providers: [unclosed"})
    assert unreadable.status_code == 422 and "document" in unreadable.get_json()["errors"]


# --- keys paused by a new address --------------------------------------------------------

NEW_URL = "https://llm.elsewhere.example/v1"
NEW_ORIGIN = "https://llm.elsewhere.example:443"


def _move_openai(as_admin: Caller) -> int:
    factories.allowed_host("llm.elsewhere.example:443")  # no DNS in tests
    openai = as_admin.get(f"providers/{factories.provider('openai').id}").get_json()
    moved = as_admin.patch(
        f"providers/{openai['id']}", json={"base_url": NEW_URL, "version": openai["version"]}
    )
    assert moved.status_code == 200, moved.get_json()
    return int(openai["id"])


def test_admin_resumes_global_and_fallback_keys_after_a_base_url_change(
    as_admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_SECRET)
    key = factories.global_key("openai", GLOBAL_SECRET)
    provider_id = _move_openai(as_admin)
    assert credential_pause(db.session.get(Credential, key.id)) is not None

    stale = as_admin.post(
        f"providers/{provider_id}/keys/confirm", json={"origin": "https://other.example:443"}
    )
    assert stale.status_code == 409 and stale.mimetype == "application/problem+json"
    resumed = as_admin.post(f"providers/{provider_id}/keys/confirm", json={"origin": NEW_ORIGIN})
    assert resumed.status_code == 200
    assert resumed.get_json() == {"resumed": 2, "origin": NEW_ORIGIN}
    db.session.expire_all()
    assert credential_pause(db.session.get(Credential, key.id)) is None
    assert _events("credential", "confirm_origin") and _events("provider", "confirm_origin")
    for response in (stale, resumed):
        assert GLOBAL_SECRET not in response.get_data(as_text=True)
        assert ENV_SECRET not in response.get_data(as_text=True)


def test_whoever_manages_a_key_resumes_it(as_admin: Caller, as_member: Caller) -> None:
    own = factories.user_key(as_member.user, "openai", "sk-gaps-member-key-000000003")
    _move_openai(as_admin)
    assert as_admin.post(f"credentials/{own.id}/confirm", json={}).status_code == 404
    confirmed = as_member.post(f"credentials/{own.id}/confirm", json={"origin": NEW_ORIGIN})
    assert confirmed.status_code == 200
    body = confirmed.get_json()
    assert body["id"] == own.id and "sk-gaps-member-key" not in json.dumps(body)
    db.session.expire_all()
    assert credential_pause(db.session.get(Credential, own.id)) is None


def test_env_key_confirmation_is_for_admins(
    as_admin: Caller, as_org_admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_SECRET)
    provider_id = _move_openai(as_admin)
    assert as_org_admin.post(f"providers/{provider_id}/env-key/confirm", json={}).status_code == 403
    confirmed = as_admin.post(f"providers/{provider_id}/env-key/confirm", json={})
    assert confirmed.status_code == 200 and confirmed.get_json()["slug"] == "openai"
    assert ENV_SECRET not in confirmed.get_data(as_text=True)
    (event,) = _events("provider", "confirm_origin")
    assert event.diff["env_key_origin"]["after"] == NEW_ORIGIN


# --- invitations -------------------------------------------------------------------------


def test_org_admin_invites_by_email_with_the_same_answer_for_known_and_unknown_emails(
    org, as_org_admin: Caller, as_member: Caller
) -> None:
    factories.make_user("known@example.com")
    url = f"orgs/{org.id}/invitations"
    known = as_org_admin.post(url, json={"email": "Known@Example.com"})
    unknown = as_org_admin.post(url, json={"email": "stranger@example.com", "org_role": "member"})
    assert known.status_code == unknown.status_code == 201
    assert set(known.get_json()) == set(unknown.get_json())
    assert known.get_json()["email"] == "known@example.com"
    assert not any("token" in name for name in known.get_json())  # nothing secret to show
    # Nobody joined: an invitation waits for its owner.
    assert not db.session.scalar(
        sa.select(Membership).join(User).where(User.email == "known@example.com")
    )
    listed = as_org_admin.get(url).get_json()
    assert sorted(i["email"] for i in listed) == ["known@example.com", "stranger@example.com"]
    assert len(_events("invitation", "invite")) == 2

    member_email = as_member.user.email  # type: ignore[union-attr]
    already = as_org_admin.post(url, json={"email": member_email})
    assert already.status_code == 422 and list(already.get_json()["errors"]) == ["email"]
    bad = as_org_admin.post(url, json={"email": "not an email"})
    assert bad.status_code == 422 and "email" in bad.get_json()["errors"]
    role = as_org_admin.post(url, json={"email": "x@example.com", "org_role": "owner"})
    assert role.status_code == 422 and "org_role" in role.get_json()["errors"]
    assert as_member.post(url, json={"email": "y@example.com"}).status_code == 404

    unknown_id = unknown.get_json()["id"]
    assert as_org_admin.delete(f"{url}/{unknown_id}").status_code == 204
    assert as_org_admin.delete(f"{url}/{unknown_id}").status_code == 404
    assert _events("invitation", "revoke")


def test_the_invitee_sees_accepts_or_declines_their_invitations(
    app: Flask, org, as_org_admin: Caller
) -> None:
    invitee = factories.make_user("invitee@example.com")
    other = factories.make_org("beta", "Beta")
    as_invitee = token_for(app, invitee)
    first = as_org_admin.post(f"orgs/{org.id}/invitations", json={"email": invitee.email})
    from webapp.services.accounts import invitations

    admin = factories.make_user("root@example.com", role="admin")
    second = invitations.invite(admin, other, invitee.email, "org_admin")
    mine = as_invitee.get("me/invitations").get_json()
    assert sorted(i["org_name"] for i in mine) == ["Acme", "Beta"]
    # Someone else's invitation is not theirs to accept.
    assert as_org_admin.post(f"me/invitations/{second.id}/accept").status_code == 404

    joined = as_invitee.post(f"me/invitations/{first.get_json()['id']}/accept")
    assert joined.status_code == 201
    assert (joined.get_json()["org_id"], joined.get_json()["org_role"]) == (org.id, "member")
    assert as_invitee.post(f"me/invitations/{second.id}/decline").status_code == 204
    assert as_invitee.get("me/invitations").get_json() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrgInvitation)) == 0
    assert _events("membership", "create") and _events("invitation", "decline")


# --- profile settings --------------------------------------------------------------------


def test_profile_settings_layer_with_version_and_field_errors(
    org, as_admin: Caller, as_org_admin: Caller
) -> None:
    created = as_org_admin.post("profiles", json={"org_id": org.id, "name": "careful"})
    assert created.status_code == 201
    url = f"settings/profiles/{created.get_json()['id']}"
    layer = as_org_admin.get(url).get_json()
    assert layer["scope"] == "profile" and layer["values"]["temperature"] is None
    saved = as_org_admin.patch(url, json={"temperature": 0.2, "version": layer["version"]})
    assert saved.status_code == 200 and saved.get_json()["values"]["temperature"] == 0.2
    stale = as_org_admin.patch(url, json={"temperature": 0.4, "version": layer["version"]})
    assert stale.status_code == 409
    bad = as_org_admin.patch(url, json={"temperature": 7, "version": saved.get_json()["version"]})
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["temperature"]
    assert _events("settings", "update")

    global_profile = as_admin.post("profiles", json={"name": "house"}).get_json()
    assert as_org_admin.get(f"settings/profiles/{global_profile['id']}").status_code == 404
    assert as_admin.get(f"settings/profiles/{global_profile['id']}").status_code == 200


# --- users: generated passwords, resets, signing out everywhere ---------------------------


def test_create_a_user_with_a_generated_password_shown_once(as_admin: Caller) -> None:
    created = as_admin.post("users", json={"email": "new@example.com", "generate_password": True})
    assert created.status_code == 201
    body = created.get_json()
    password = body["password"]
    assert password and body["must_change_password"] is True
    assert users.authenticate("new@example.com", password) is not None
    read = as_admin.get(f"users/{body['id']}")
    assert password not in read.get_data(as_text=True) and "password" not in read.get_json()
    listed = as_admin.get("users", query_string={"q": "new@"})
    assert password not in listed.get_data(as_text=True)
    (event,) = [e for e in _events("user", "create") if e.target_id == str(body["id"])]
    assert password not in json.dumps(event.diff)

    chosen = as_admin.post(
        "users", json={"email": "chosen@example.com", "password": "correct horse battery 9!"}
    )
    assert chosen.status_code == 201 and chosen.get_json()["password"] is None
    assert chosen.get_json()["must_change_password"] is False
    for wrong in (
        {
            "email": "both@example.com",
            "password": "correct horse battery 9!",
            "generate_password": True,
        },
        {"email": "neither@example.com"},
    ):
        refused = as_admin.post("users", json=wrong)
        assert refused.status_code == 422 and "password" in refused.get_json()["errors"]


def test_admin_resets_a_password_and_signs_a_user_out_everywhere(
    as_admin: Caller, member: User
) -> None:
    token_before = member.session_token
    reset = as_admin.post(f"users/{member.id}/password")
    assert reset.status_code == 200
    body = reset.get_json()
    assert body["user_id"] == member.id and body["must_change_password"] is True
    db.session.expire_all()
    assert users.authenticate(member.email, body["password"]) is not None
    assert db.session.get(User, member.id).session_token != token_before  # type: ignore[union-attr]
    assert as_admin.post(f"users/{member.id}/password").get_json()["password"] != body["password"]
    assert as_admin.post("users/999999/password").status_code == 404

    before = db.session.get(User, member.id).session_token  # type: ignore[union-attr]
    assert as_admin.post(f"users/{member.id}/sessions/end").status_code == 204
    db.session.expire_all()
    assert db.session.get(User, member.id).session_token != before  # type: ignore[union-attr]
    assert _events("user", "sign_out")
    for event in _events("user", "update"):
        assert body["password"] not in json.dumps(event.diff)


# --- the throttle on refused access tokens ------------------------------------------------


def _junk() -> str:
    return new_secret().secret  # well formed, never stored


def test_many_refused_tokens_from_one_address_get_429_with_retry_after(
    app: Flask, admin: User
) -> None:
    app.config["API_AUTH_FAILURES_PER_MINUTE"] = 3
    client = app.test_client()
    valid = make_token(admin, scope="full")[1]
    for _ in range(5):  # valid tokens do not count
        ok = client.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"})
        assert ok.status_code == 200
    statuses = [
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {_junk()}"}).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {_junk()}"})
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["status"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # While the address waits, tokens are not even looked up.
    waiting = client.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"})
    assert waiting.status_code == 429
    # Another address is not affected.
    other = client.get(
        "/api/v1/me",
        headers={"Authorization": f"Bearer {valid}"},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other.status_code == 200


def test_missing_tokens_do_not_count_and_the_throttle_can_be_off(app: Flask) -> None:
    app.config["API_AUTH_FAILURES_PER_MINUTE"] = 2
    client = app.test_client()
    assert {client.get("/api/v1/me").status_code for _ in range(4)} == {401}
    app.config["API_AUTH_FAILURES_PER_MINUTE"] = None
    junk = {"Authorization": f"Bearer {_junk()}"}
    assert {client.get("/api/v1/me", headers=junk).status_code for _ in range(4)} == {401}


def test_the_gateway_throttles_refused_tokens_only_on_its_failure_path(
    app: Flask, admin: User
) -> None:
    app.config["API_AUTH_FAILURES_PER_MINUTE"] = 2
    client = app.test_client()
    junk = {"Authorization": f"Bearer {_junk()}"}
    assert client.get("/v1/models", headers=junk).status_code == 401
    refused = client.get("/v1/models", headers=junk)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "rate_limit_exceeded"
    # The count is shared with the API (one address, one count).
    assert client.get("/api/v1/me", headers=junk).status_code == 429
    # A valid token on the gateway is not checked against the throttle at all.
    valid = make_token(admin)[1]
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {valid}"}).status_code == 200


def test_usage_prune_keeps_decimal_totals(as_admin: Caller) -> None:
    """Prune through the API takes records out of the rollups too, as the CLI does."""
    now = datetime.now(UTC)
    data.insert(
        [data.record(created_at=now - timedelta(days=d), cost_usd=Decimal(d)) for d in (1, 50)]
    )
    as_admin.patch("retention", json={"record_days": 30})
    assert as_admin.post("retention/prune").get_json()["records_deleted"] == 1
    summary = as_admin.get("usage/summary", query_string={"period": "30d"}).get_json()
    assert Decimal(summary["totals"]["cost_usd"]) == Decimal(1)


# --- the account page: preference, signing out everywhere ---------------------------------


def test_preferred_model_is_one_the_member_may_use(as_member: Caller) -> None:
    start = as_member.get("me/preference").get_json()
    assert start["model"] is None and "openai/gpt-5.4-mini" in start["allowed_models"]
    chosen = as_member.put("me/preference", json={"model": "openai/gpt-5.4-mini"})
    assert chosen.status_code == 200 and chosen.get_json()["model"] == "openai/gpt-5.4-mini"
    wrong = as_member.put("me/preference", json={"model": "nobody/nothing"})
    assert wrong.status_code == 422 and list(wrong.get_json()["errors"]) == ["model"]
    cleared = as_member.put("me/preference", json={"model": None})
    assert cleared.get_json()["model"] is None
    assert _events("settings", "update")


def test_signing_myself_out_everywhere_keeps_the_token(as_member: Caller) -> None:
    user = as_member.user
    assert user is not None
    before = user.session_token
    assert as_member.post("me/sessions/end").status_code == 204
    db.session.expire_all()
    assert db.session.get(User, user.id).session_token != before  # type: ignore[union-attr]
    assert as_member.get("me").status_code == 200
    assert _events("user", "sign_out")


# --- single sign-on identities -----------------------------------------------------------


def test_admin_links_and_unlinks_sso_identities(app: Flask, as_admin: Caller, member: User) -> None:
    from webapp.services.accounts.sso_config import OidcProvider

    app.config["OIDC_PROVIDERS"] = (
        OidcProvider(
            name="corp",
            label="Corp",
            issuer="https://idp.example.test",
            client_id="client",
            client_secret="client-secret-never-shown",
        ),
    )
    url = f"users/{member.id}/sso-identities"
    linked = as_admin.post(url, json={"provider": "corp", "subject": "u-123"})
    assert linked.status_code == 201
    body = linked.get_json()
    assert (body["provider"], body["issuer"], body["subject"]) == (
        "Corp",
        "https://idp.example.test",
        "u-123",
    )
    assert "client-secret-never-shown" not in linked.get_data(as_text=True)
    again = as_admin.post(url, json={"provider": "corp", "subject": "u-123"})
    assert again.status_code == 422 and list(again.get_json()["errors"]) == ["subject"]
    unknown = as_admin.post(url, json={"provider": "elsewhere", "subject": "u-9"})
    assert unknown.status_code == 422 and list(unknown.get_json()["errors"]) == ["provider"]
    assert [i["id"] for i in as_admin.get(url).get_json()] == [body["id"]]
    assert as_admin.delete(f"{url}/{body['id']}").status_code == 204
    assert as_admin.delete(f"{url}/{body['id']}").status_code == 404
    assert as_admin.get(url).get_json() == []
    assert _events("sso_identity", "unlink")


def test_budgets_of_one_owner_with_this_periods_spend(
    app: Flask, as_admin: Caller, as_member: Caller, as_org_admin: Caller
) -> None:
    token = make_token(as_member.user, name="ci")[0]
    made = as_member.post("budgets", json={"owner": "token", "owner_id": token.id, "amount": "5"})
    assert made.status_code == 201
    query = {"owner": "token", "owner_id": token.id}
    (listed,) = as_member.get("budgets", query_string=query).get_json()
    assert listed["id"] == made.get_json()["id"]
    assert Decimal(listed["spent"]) == 0 and listed["resets_at"] is not None
    assert as_org_admin.get("budgets", query_string=query).status_code == 404
    assert len(as_admin.get("budgets", query_string=query).get_json()) == 1
    bad = as_admin.get("budgets", query_string={"owner": "planet", "owner_id": 1})
    assert bad.status_code == 422 and "owner" in bad.get_json()["errors"]


REDIS_URL = "redis://127.0.0.1:6379/5"


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.committed  # two more apps, each with connections of their own
def test_refused_tokens_are_counted_in_redis_across_workers(
    app: Flask, database_url: str, instance_path: object
) -> None:
    """Two app instances (two gunicorn workers) share one count through Redis."""
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import uuid

    import redis

    from tests.conftest import make_app

    prefix = f"sbtest-{uuid.uuid4().hex[:12]}"
    config = {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "API_AUTH_FAILURES_PER_MINUTE": 4,
    }
    connection = redis.Redis.from_url(REDIS_URL)
    first, second = (make_app(database_url, instance_path, **config) for _ in range(2))
    where = {"REMOTE_ADDR": "192.0.2.44"}
    try:
        for client in (first.test_client(), second.test_client(), first.test_client()):
            junk = {"Authorization": f"Bearer {_junk()}"}
            assert client.get("/api/v1/me", headers=junk, environ_base=where).status_code == 401
        (counter,) = connection.scan_iter(f"*{prefix}/token-auth/failures/*")
        assert connection.get(counter) == b"3" and connection.ttl(counter) > 0
        junk = {"Authorization": f"Bearer {_junk()}"}
        last = second.test_client().get("/api/v1/me", headers=junk, environ_base=where)
        assert last.status_code == 429 and last.headers["Retry-After"]
        refused = first.test_client().get("/v1/models", headers=junk, environ_base=where)
        assert refused.status_code == 429
    finally:
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)


def test_models_enabled_in_bulk_all_or_nothing(as_admin: Caller) -> None:
    mini = factories.model("openai/gpt-5.4-mini")
    others = [
        m["id"]
        for m in as_admin.get("models", query_string={"provider": "openai"}).get_json()["items"]
        if m["id"] != mini.id and not m["is_default_chat"] and not m["is_default_embedding"]
    ][:2]
    off = as_admin.post("models/enabled", json={"model_ids": others, "enabled": False})
    assert off.status_code == 200
    assert sorted(m["id"] for m in off.get_json()) == sorted(others)
    assert all(m["enabled"] is False for m in off.get_json())
    default = next(
        m["id"] for m in as_admin.get("models").get_json()["items"] if m["is_default_chat"]
    )
    refused = as_admin.post(
        "models/enabled", json={"model_ids": [*others, default], "enabled": False}
    )
    assert refused.status_code == 422
    on = as_admin.post("models/enabled", json={"model_ids": others, "enabled": True})
    assert all(m["enabled"] for m in on.get_json())
    empty = as_admin.post("models/enabled", json={"model_ids": [], "enabled": True})
    assert empty.status_code == 422 and "model_ids" in empty.get_json()["errors"]
    huge = as_admin.post("models/enabled", json={"model_ids": [2**70], "enabled": True})
    assert huge.status_code == 422 and "model_ids.0" in huge.get_json()["errors"]
