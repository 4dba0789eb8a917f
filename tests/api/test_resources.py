"""What each resource does: create, read, update, delete through the same services as the
pages, audited; 409 on a stale version, 422 with field errors, secrets never returned."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.api.conftest import Caller, token_for
from webapp.extensions import db
from webapp.models import AccessToken, AuditEvent, Credential, Provider
from webapp.services.credentials import storage

SECRET = "sk-api-test-secret-value-00000001"


def _audited(target_type: str, action: str) -> bool:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.target_type == target_type, AuditEvent.action == action)
        )
        or 0
    ) > 0


# --- providers and models ----------------------------------------------------------------


def test_provider_crud_with_version_and_field_errors(as_admin: Caller) -> None:
    created = as_admin.post(
        "providers",
        json={
            "slug": "local-llm",
            "display_name": "Local",
            "protocol": "anthropic",
            "api_key_env": None,
            "credit_multiplier": "0.5",
        },
    )
    assert created.status_code == 201, created.get_json()
    provider = created.get_json()
    assert Decimal(provider["credit_multiplier"]) == Decimal("0.5") and provider["version"] == 1
    assert _audited("provider", "create")

    url = f"providers/{provider['id']}"
    updated = as_admin.patch(url, json={"description": "On the LAN", "version": 1})
    assert updated.status_code == 200
    assert updated.get_json()["description"] == "On the LAN"
    assert updated.get_json()["protocol"] == "anthropic"  # kept

    stale = as_admin.patch(url, json={"description": "Again", "version": 1})
    assert stale.status_code == 409
    assert stale.mimetype == "application/problem+json"
    assert stale.get_json()["title"] == "Conflict"

    wrong = as_admin.patch(url, json={"credit_multiplier": "lots", "version": 2})
    assert wrong.status_code == 422
    body = wrong.get_json()
    assert list(body["errors"]) == ["credit_multiplier"]
    assert isinstance(body["errors"]["credit_multiplier"], list)

    no_version = as_admin.patch(url, json={"description": "x"})
    assert no_version.status_code == 422 and "version" in no_version.get_json()["errors"]

    duplicate = as_admin.post(
        "providers", json={"slug": "local-llm", "display_name": "X", "protocol": "openai"}
    )
    assert duplicate.status_code == 422 and "slug" in duplicate.get_json()["errors"]

    assert as_admin.delete(url).status_code == 204
    assert as_admin.get(url).status_code == 404


def test_unknown_field_is_refused(as_admin: Caller) -> None:
    openai = factories.provider("openai")
    response = as_admin.patch(
        f"providers/{openai.id}", json={"slug": "renamed", "version": openai.version}
    )
    assert response.status_code == 422
    assert "slug" in response.get_json()["errors"]


def test_models_list_paginates_by_cursor(as_admin: Caller) -> None:
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = as_admin.get("models", query_string=params).get_json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) > 7
    assert as_admin.get("models", query_string={"cursor": "garbage!"}).status_code == 422


def test_model_update_and_default(as_admin: Caller) -> None:
    model = factories.model("openai/gpt-5.4-mini")
    response = as_admin.patch(
        f"models/{model.id}", json={"input_price": "0.2", "version": model.version}
    )
    assert response.status_code == 200, response.get_json()
    assert Decimal(response.get_json()["input_price"]) == Decimal("0.2")
    assert response.get_json()["price_source"] == "admin"
    default = as_admin.post(f"models/{model.id}/default", json={"kind": "chat"})
    assert default.status_code == 200 and default.get_json()["is_default_chat"] is True


def test_connection_test_reports_failure_without_a_5xx(as_admin: Caller) -> None:
    provider = factories.provider("openai")
    response = as_admin.post(f"providers/{provider.id}/test")
    assert response.status_code == 200
    assert set(response.get_json()) >= {"ok", "latency_ms", "models", "message"}


# --- credentials -------------------------------------------------------------------------


def test_credentials_are_write_only(as_member: Caller) -> None:
    openai = factories.provider("openai")
    created = as_member.post(
        "credentials", json={"provider_id": openai.id, "label": "mine", "secret": SECRET}
    )
    assert created.status_code == 201, created.get_json()
    key = created.get_json()
    assert SECRET not in created.get_data(as_text=True)
    assert key["masked"].endswith("0001)") and key["scope"] == "user"

    url = f"credentials/{key['id']}"
    kept = as_member.patch(url, json={"label": "renamed", "secret": "", "version": key["version"]})
    assert kept.status_code == 200
    stored = db.session.get(Credential, key["id"])
    assert stored is not None and storage.decrypt_secret(stored) == SECRET  # secret kept

    new_secret = "sk-api-test-secret-value-00000002"
    version = kept.get_json()["version"]
    changed = as_member.patch(url, json={"secret": new_secret, "version": version})
    assert changed.status_code == 200 and new_secret not in changed.get_data(as_text=True)
    db.session.expire_all()
    assert storage.decrypt_secret(db.session.get(Credential, key["id"])) == new_secret  # type: ignore[arg-type]
    assert changed.get_json()["label"] == "renamed"

    listed = as_member.get("credentials").get_data(as_text=True)
    assert SECRET not in listed and new_secret not in listed
    assert as_member.delete(url).status_code == 204
    assert _audited("credential", "delete")


def test_member_cannot_reach_global_or_org_keys(as_member: Caller, org) -> None:  # type: ignore[no-untyped-def]
    assert as_member.get("credentials", query_string={"owner": "global"}).status_code == 404
    response = as_member.get("credentials", query_string={"owner": "org", "org_id": org.id})
    assert response.status_code == 404
    openai = factories.provider("openai")
    refused = as_member.post(
        "credentials", json={"owner": "global", "provider_id": openai.id, "secret": SECRET}
    )
    assert refused.status_code == 404


def test_org_admin_manages_the_org_keys(as_org_admin: Caller, org) -> None:  # type: ignore[no-untyped-def]
    openai = factories.provider("openai")
    created = as_org_admin.post(
        "credentials",
        json={"owner": "org", "org_id": org.id, "provider_id": openai.id, "secret": SECRET},
    )
    assert created.status_code == 201
    listed = as_org_admin.get("credentials", query_string={"owner": "org", "org_id": org.id})
    assert [k["id"] for k in listed.get_json()["items"]] == [created.get_json()["id"]]


def test_credential_validation_is_the_services(as_member: Caller) -> None:
    response = as_member.post("credentials", json={"provider_id": 999999, "secret": "short"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) >= {"secret"}


# --- tokens ------------------------------------------------------------------------------


def test_token_create_shows_secret_once_and_revoke(app: Flask, as_member: Caller) -> None:
    created = as_member.post("tokens", json={"name": "ci", "scope": "read_only"})
    assert created.status_code == 201
    token = created.get_json()
    assert token["token"].startswith("sb-") and token["scope"] == "read_only"
    fresh = Caller(app.test_client(), token["token"])
    assert fresh.get("me").status_code == 200
    assert fresh.post("tokens", json={"name": "nope"}).status_code == 403
    read = as_member.get(f"tokens/{token['id']}").get_json()
    assert "token" not in read and token["token"] not in str(read)
    assert as_member.delete(f"tokens/{token['id']}").status_code == 204
    from webapp.services.tokens import auth

    auth.clear_cache()
    assert fresh.get("me").status_code == 401
    assert db.session.get(AccessToken, token["id"]).revoked_at is not None  # type: ignore[union-attr]


def test_token_validation(as_member: Caller) -> None:
    response = as_member.post("tokens", json={"name": "", "requests_per_minute": 0})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) >= {"name", "requests_per_minute"}
    wrong_type = as_member.post("tokens", json={"name": "x", "scope": "everything"})
    assert wrong_type.status_code == 422 and "scope" in wrong_type.get_json()["errors"]


def test_tokens_list_only_own_for_members(app: Flask, as_member: Caller, admin) -> None:  # type: ignore[no-untyped-def]
    token_for(app, admin)
    items = as_member.get("tokens").get_json()["items"]
    assert items and {t["user_id"] for t in items} == {as_member.user.id}  # type: ignore[union-attr]


# --- organizations and users -------------------------------------------------------------


def test_org_admin_edits_name_but_not_admin_fields(as_org_admin: Caller, org) -> None:  # type: ignore[no-untyped-def]
    response = as_org_admin.patch(
        f"orgs/{org.id}", json={"name": "Acme Ltd", "members_pay": True, "version": org.version}
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "Acme Ltd"
    assert response.get_json()["members_pay"] is False  # an admin-only field, ignored


def test_org_members(as_admin: Caller, org, member) -> None:  # type: ignore[no-untyped-def]
    added = as_admin.post(f"orgs/{org.id}/members", json={"email": member.email})
    assert added.status_code == 201
    membership = added.get_json()
    assert membership["email"] == member.email and membership["org_role"] == "member"
    again = as_admin.post(f"orgs/{org.id}/members", json={"email": member.email})
    assert again.status_code == 422 and "email" in again.get_json()["errors"]
    promoted = as_admin.patch(
        f"orgs/{org.id}/members/{membership['id']}", json={"org_role": "org_admin"}
    )
    assert promoted.get_json()["org_role"] == "org_admin"
    listed = as_admin.get(f"orgs/{org.id}/members").get_json()["items"]
    assert [m["email"] for m in listed] == [member.email]
    assert as_admin.delete(f"orgs/{org.id}/members/{membership['id']}").status_code == 204


def test_users_role_mode_deactivate_and_credits(app: Flask, as_admin: Caller, member) -> None:  # type: ignore[no-untyped-def]
    own = token_for(app, member)
    response = as_admin.patch(
        f"users/{member.id}", json={"mode": "byok", "active": False, "version": member.version}
    )
    assert response.status_code == 200
    assert response.get_json()["mode"] == "byok" and response.get_json()["active"] is False
    from webapp.services.tokens import auth

    auth.clear_cache()
    assert own.get("me").status_code == 401  # a deactivated owner's token stops working

    credits = as_admin.post(f"users/{member.id}/credits", json={"amount": "12.5", "note": "hi"})
    assert credits.status_code == 201
    assert Decimal(credits.get_json()["balance_after"]) == Decimal("12.5")
    bad = as_admin.post(f"users/{member.id}/credits", json={"amount": "-1", "kind": "grant"})
    assert bad.status_code == 422 and "amount" in bad.get_json()["errors"]

    self_demote = as_admin.patch(
        f"users/{as_admin.user.id}",  # type: ignore[union-attr]
        json={"role": "member", "version": as_admin.user.version},  # type: ignore[union-attr]
    )
    assert self_demote.status_code == 422 and "role" in self_demote.get_json()["errors"]


def test_users_list_and_filter(as_admin: Caller, member) -> None:  # type: ignore[no-untyped-def]
    page = as_admin.get("users", query_string={"q": "member@", "limit": 1}).get_json()
    assert [u["email"] for u in page["items"]] == [member.email]
    assert "password_hash" not in page["items"][0]


def test_me_mode(as_member: Caller) -> None:
    response = as_member.patch("me", json={"mode": "byok"})
    assert response.status_code == 200 and response.get_json()["mode"] == "byok"
    assert as_member.patch("me", json={"mode": "free"}).status_code == 422


# --- usage, pricing, effective settings --------------------------------------------------


def test_usage_summary_records_and_csv(as_admin: Caller) -> None:
    summary = as_admin.get("usage/summary", query_string={"period": "7d"})
    assert summary.status_code == 200
    assert summary.get_json()["totals"]["requests"] >= 0
    records = as_admin.get("usage/records", query_string={"limit": 5})
    assert records.status_code == 200 and "next_cursor" in records.get_json()
    csv = as_admin.get("usage/records.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).startswith("id,created_at")
    bad = as_admin.get("usage/summary", query_string={"period": "custom"})
    assert bad.status_code == 422 and "since" in bad.get_json()["errors"]


def test_pricing_and_effective_settings(as_admin: Caller, member) -> None:  # type: ignore[no-untyped-def]
    prices = as_admin.get("pricing").get_json()
    assert prices["providers"] and "multiplier" in prices["providers"][0]
    effective = as_admin.get("settings/effective", query_string={"user_id": member.id})
    assert effective.status_code == 200
    body = effective.get_json()
    assert body["model"] and body["sources"]
    assert all("layer" in s for s in body["sources"].values())
    missing = as_admin.get("settings/effective", query_string={"user_id": 999999})
    assert missing.status_code == 404


# --- rate limits -------------------------------------------------------------------------


def test_rate_limits_per_token(app: Flask, as_admin: Caller) -> None:
    app.config.update(API_RPM=5, API_SENSITIVE_RPM=2)
    assert as_admin.get("users").headers["RateLimit-Policy"] == (
        '"general";q=5;w=60, "sensitive";q=2;w=60'
    )
    assert as_admin.get("users").status_code == 200
    limited = as_admin.get("users")
    assert limited.status_code == 429
    assert limited.mimetype == "application/problem+json"
    assert int(limited.headers["Retry-After"]) >= 1
    assert as_admin.get("me").status_code == 200  # the general limit is not spent yet
    assert as_admin.get("me").headers["RateLimit"].startswith('"general";r=0')
    assert as_admin.get("me").status_code == 429


def test_provider_rows_untouched_by_read_only(as_read_only: Caller) -> None:
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Provider))
    response = as_read_only.post(
        "providers", json={"slug": "ro", "display_name": "RO", "protocol": "openai"}
    )
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Provider)) == before


def test_audit_log_pages_and_hides_secrets(as_admin: Caller) -> None:
    openai = factories.provider("openai")
    as_admin.post(
        "credentials", json={"owner": "global", "provider_id": openai.id, "secret": SECRET}
    )
    for n in range(3):
        as_admin.post("orgs", json={"slug": f"org-{n}", "name": f"Org {n}"})
    first = as_admin.get("audit", query_string={"limit": 2}).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = as_admin.get("audit", query_string={"limit": 2, "cursor": first["next_cursor"]})
    ids = [e["id"] for e in first["items"]] + [e["id"] for e in second.get_json()["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    everything = as_admin.get("audit", query_string={"limit": 200}).get_data(as_text=True)
    assert SECRET not in everything
