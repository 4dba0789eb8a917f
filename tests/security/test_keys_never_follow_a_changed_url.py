"""A stored key is sent only to the origin it was approved for. When a provider's base URL or
a key's own override moves to another host, the key is paused — never sent there — until
someone who may manage it re-enters it or confirms the new host; the confirmation is a
service function that checks its caller and is audited without the secret.

"Elsewhere" is a second fake upstream on another port, so these tests can prove that nothing
at all reached the new host, not only that the call failed.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import GLOBAL_OPENAI_KEY
from tests.fake_upstream import FakeUpstream
from webapp.extensions import db
from webapp.models import AuditEvent, Mode, Provider
from webapp.services import llm
from webapp.services.catalog import providers
from webapp.services.catalog.seed_data import PROVIDERS
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.confirmation import (
    confirm_env_key_origin,
    confirm_origin,
    confirm_provider_keys,
)
from webapp.services.credentials.origins import origin_of
from webapp.services.credentials.resolution import resolve_key
from webapp.services.errors import Conflict, NotConfigured, NotFound, PermissionDenied

HI = [{"role": "user", "content": "Hi"}]
ORG_KEY, USER_KEY, ENV_KEY = "sk-org-origin-0001", "sk-user-origin-0002", "sk-env-origin-0003"
MIGRATION = Path(__file__).resolve().parents[2] / "migrations/versions/0002_hardening.py"


@pytest.fixture
def elsewhere() -> Iterator[FakeUpstream]:
    """A host the keys were never approved for (allowed, so the SSRF guard is not the reason)."""
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def setup(wired, elsewhere, admin, member, monkeypatch):  # type: ignore[no-untyped-def]
    """Keys at every scope for OpenAI, all approved for the fake upstream."""
    for server in (wired, elsewhere):
        factories.allowed_host(server.base_url.removeprefix("http://"))
    for host in ("llm.elsewhere.example:443", "byok.elsewhere.example:443"):
        factories.allowed_host(host)  # no DNS in tests
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    org = factories.make_org("acme")
    factories.add_member(org, member)
    org_key = factories.org_key(org, "openai", ORG_KEY)
    user_key = factories.user_key(member, "openai", USER_KEY)
    return org, org_key, user_key


def move_openai(admin, url: str) -> Provider:  # type: ignore[no-untyped-def]
    openai = factories.provider("openai")
    data = providers.ProviderInput(
        display_name=openai.display_name,
        protocol=openai.protocol,
        base_url=url,
        api_key_env=openai.api_key_env,
    )
    return providers.update_provider(admin, openai, data, openai.version)


def everything_received(*servers: FakeUpstream) -> str:
    return json.dumps([[r.headers, r.body] for s in servers for r in s.requests])


def test_origin_of_is_the_rule_the_migration_approved_existing_keys_with():
    spec = importlib.util.spec_from_file_location("hardening", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)  # type: ignore[union-attr]
    urls = [
        "https://api.openai.com/v1",
        "HTTPS://API.OpenAI.com.:443/v1/",
        "http://localhost:11434/v1",
        "http://[::1]:8080/v1",
        "http://[FD00::1]/x",
        "https://example.com:8443",
        "ftp://example.com",
        "https://",
        "http://host:99999",
        "",
        None,
    ]
    for url in urls:
        assert origin_of(url) == migration._origin(url), url
    assert origin_of("https://api.openai.com/v1") == "https://api.openai.com:443"
    assert origin_of("http://[::1]/v1") == "http://[::1]:80"


def test_the_seed_approves_each_preset_for_its_own_address(app):
    for preset in PROVIDERS:
        seeded = factories.provider(preset.slug)
        if preset.api_key_env:  # its own variable for its own address
            pair = (preset.api_key_env, origin_of(preset.base_url))
            assert (seeded.env_key_var, seeded.env_key_origin) == pair
        else:  # no fallback key, nothing approved
            assert (seeded.env_key_var, seeded.env_key_origin) == (None, None)


def test_a_moved_provider_sends_no_stored_key_anywhere(setup, admin, member, wired, elsewhere):
    org, _, _ = setup
    move_openai(admin, elsewhere.openai_base_url)
    for context in (
        llm.CallContext(user=member, org=org),  # org key, then global key, then OPENAI_API_KEY
        llm.CallContext(user=member, mode=Mode.BYOK),  # the member's own key
    ):
        with pytest.raises(llm.LLMError) as excinfo:
            llm.complete(HI, context=context)
        assert excinfo.value.error_type == "not_configured"
        assert "paused" in excinfo.value.message and elsewhere.base_url in excinfo.value.message
    assert elsewhere.requests == [] and wired.requests == []


def test_the_error_says_which_key_is_paused_where_and_who_can_resume_it(setup, admin, member):
    org, _, _ = setup
    openai = move_openai(admin, "https://llm.elsewhere.example/v1")
    with pytest.raises(NotConfigured) as managed:
        resolve_key(member, org, openai, mode=Mode.MANAGED)
    message = managed.value.message
    assert "organization OpenAI key “default” is paused" in message
    assert "OpenAI's base URL now points at https://llm.elsewhere.example" in message
    assert "An admin of Acme can re-enter it or confirm" in message
    with pytest.raises(NotConfigured) as byok:
        resolve_key(member, None, openai, mode=Mode.BYOK)
    assert "personal OpenAI key" in byok.value.message and "Settings page" in byok.value.message
    for secret in (ORG_KEY, USER_KEY, ENV_KEY, GLOBAL_OPENAI_KEY):
        assert secret not in message + byok.value.message


def test_managed_calls_fall_through_only_to_keys_approved_for_the_new_host(
    setup, admin, member, wired
):
    """Decision: a paused org key is skipped like an expired one, so the global key may serve
    the call — but only because the global key is checked in the same way."""
    org, _, _ = setup
    factories.global_key(
        "openai", "sk-pinned-global-0009", label="pinned", base_url=wired.openai_base_url
    )
    move_openai(admin, "https://llm.elsewhere.example/v1")
    reply = llm.complete(HI, context=llm.CallContext(user=member, org=org))
    assert reply.key_source == "global"
    (request,) = wired.requests_to("openai.chat")
    assert request.headers["authorization"] == "Bearer sk-pinned-global-0009"
    with pytest.raises(NotConfigured, match="personal OpenAI key “default” is paused"):
        resolve_key(member, None, factories.provider("openai"), mode=Mode.BYOK)


def test_byok_never_falls_back_when_the_personal_key_is_paused(setup, member):
    _, _, user_key = setup
    openai = factories.provider("openai")
    # Only the member's key is paused: its own override moved without re-entering it.
    credentials.update_credential(
        member,
        user_key,
        credentials.CredentialInput(base_url="https://byok.elsewhere.example"),
        None,
    )
    assert resolve_key(member, None, openai, mode=Mode.MANAGED).source == "global"
    with pytest.raises(NotConfigured, match="its base URL now points at https://byok"):
        resolve_key(member, None, openai, mode=Mode.BYOK)


def test_re_entering_the_key_approves_the_new_host(setup, admin, member, elsewhere):
    _, _, user_key = setup
    move_openai(admin, elsewhere.openai_base_url)
    credentials.update_credential(
        member, user_key, credentials.CredentialInput(secret="sk-user-retyped-0004"), None
    )
    llm.complete(HI, context=llm.CallContext(user=member, mode=Mode.BYOK))
    (request,) = elsewhere.requests_to("openai.chat")
    assert request.headers["authorization"] == "Bearer sk-user-retyped-0004"
    assert USER_KEY not in everything_received(elsewhere)


def test_a_changed_override_pauses_until_confirmed_and_the_confirmation_is_audited(
    setup, admin, member, elsewhere
):
    _, _, user_key = setup
    moved = credentials.CredentialInput(base_url=elsewhere.openai_base_url)
    credentials.update_credential(member, user_key, moved, None)
    with pytest.raises(llm.LLMError, match="paused"):
        llm.complete(HI, context=llm.CallContext(user=member, mode=Mode.BYOK))
    assert elsewhere.requests == []

    confirmed = credentials.CredentialInput(base_url=elsewhere.openai_base_url, confirm_origin=True)
    credentials.update_credential(member, user_key, confirmed, None)
    llm.complete(HI, context=llm.CallContext(user=member, mode=Mode.BYOK))
    assert elsewhere.requests_to("openai.chat")[0].headers["authorization"] == f"Bearer {USER_KEY}"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "confirm_origin")
    ).one()
    assert event.actor_id == member.id and event.target_id == str(user_key.id)
    assert event.diff["approved_origin"] == {
        "before": origin_of(factories.provider("openai").base_url),
        "after": origin_of(elsewhere.base_url),
    }
    assert USER_KEY not in json.dumps(event.diff)


def test_moving_the_address_back_resumes_the_keys(setup, admin, member, wired):
    org, _, _ = setup
    move_openai(admin, "https://llm.elsewhere.example/v1")
    move_openai(admin, wired.openai_base_url)
    assert resolve_key(member, org, factories.provider("openai")).secret == ORG_KEY


def test_a_protocol_change_moves_the_sdk_default_address_too(app, admin, member):
    acme = providers.create_provider(
        admin, providers.ProviderInput(display_name="Acme", protocol="openai", slug="acme")
    )
    factories.global_key("acme", "sk-acme-global-0005")
    assert resolve_key(member, None, acme).secret == "sk-acme-global-0005"
    data = providers.ProviderInput(display_name="Acme", protocol="anthropic")
    providers.update_provider(admin, acme, data, acme.version)
    with pytest.raises(NotConfigured, match=r"now points at https://api\.anthropic\.com"):
        resolve_key(member, None, acme)


def test_the_environment_key_is_paused_too_and_only_admins_confirm_it(
    setup, admin, member, elsewhere
):
    openai = move_openai(admin, elsewhere.openai_base_url)
    credentials.delete_credential(admin, factories.global_key("openai"))
    with pytest.raises(NotConfigured, match="fallback key OPENAI_API_KEY is paused"):
        resolve_key(None, None, openai)
    with pytest.raises(PermissionDenied):
        confirm_env_key_origin(member, openai, origin_of(elsewhere.base_url))
    confirm_env_key_origin(admin, openai, origin_of(elsewhere.base_url))
    assert resolve_key(None, None, openai).secret == ENV_KEY
    event = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "confirm_origin", AuditEvent.target_type == "provider"
        )
    ).one()
    assert event.diff["env_key_origin"]["after"] == origin_of(elsewhere.base_url)
    assert ENV_KEY not in json.dumps(event.diff)


def test_confirmations_check_who_may_manage_the_key(setup, admin, member):
    org, org_key, user_key = setup
    other = factories.make_user("other@example.com")
    openai = move_openai(admin, "https://llm.elsewhere.example/v1")
    new = "https://llm.elsewhere.example:443"
    global_key = factories.global_key("openai")
    for actor, credential in (
        (member, global_key),  # members manage only their own keys
        (member, org_key),  # ... not their org's (they are no org admin)
        (other, user_key),  # ... and nobody else's
        (admin, user_key),  # admins do not manage personal keys either
    ):
        with pytest.raises(NotFound):
            confirm_origin(actor, credential, new)
    with pytest.raises(PermissionDenied):
        confirm_provider_keys(member, openai, new)
    with pytest.raises(Conflict, match="changed again"):
        confirm_origin(member, user_key, "https://stale.example:443")
    factories.add_member(org, other, "org_admin")
    confirm_origin(other, org_key, new)
    confirm_origin(member, user_key, new)
    assert confirm_provider_keys(admin, openai, new) == 2  # the global key and OPENAI_API_KEY
    assert resolve_key(member, org, openai).secret == ORG_KEY
    assert resolve_key(member, None, openai, mode=Mode.BYOK).secret == USER_KEY
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action == "confirm_origin")
    ).all()
    assert len(actions) == 4


def test_connection_tests_and_model_lists_with_a_paused_key_are_refused(
    setup, admin, member, elsewhere
):
    _, org_key, user_key = setup
    openai = move_openai(admin, elsewhere.openai_base_url)
    admin_context = llm.CallContext(user=admin, caller="test", mode="managed")
    result = llm.test_connection(openai, context=admin_context)
    assert not result.ok and result.error_type == "not_configured"
    assert "global OpenAI key" in result.message and "paused" in result.message
    for credential, user in ((org_key, admin), (user_key, member)):
        result = llm.test_connection(
            openai, credential=credential, context=llm.CallContext(user=user, caller="test")
        )
        assert not result.ok and "paused" in (result.message or "")
    listed = llm.list_models(openai, context=admin_context)
    assert not listed.ok and "paused" in (listed.message or "")
    assert elsewhere.requests == []


def test_a_config_import_that_moves_a_provider_pauses_the_same_keys(setup, admin, member):
    from webapp.services.config.apply import apply_import
    from webapp.services.config.importing import plan_import

    org, _, _ = setup
    document = {
        "switchboard_config": 1,
        "providers": [{"slug": "openai", "base_url": "https://llm.elsewhere.example/v1"}],
    }
    public = lambda host, port: ["93.184.216.34"]  # noqa: E731
    plan = plan_import(document, resolver=public)
    (note,) = plan.notes
    assert note.path == "providers[0].base_url"
    assert "1 global key, 1 organization key, 1 personal key and the fallback key" in note.message
    assert apply_import(admin, document, resolver=public).applied
    with pytest.raises(NotConfigured, match="paused"):
        resolve_key(member, org, factories.provider("openai"))
    # A provider the import creates has its fallback key approved only for a preset's own
    # pair, as in the provider form (tests/security/test_fallback_key_variables_…).
    created = {"slug": "acme", "display_name": "Acme", "protocol": "openai"}
    created["api_key_env"] = "OPENAI_API_KEY"
    assert apply_import(admin, {**document, "providers": [created]}, resolver=public).applied
    acme = factories.provider("acme")
    assert (acme.env_key_var, acme.env_key_origin) == (
        "OPENAI_API_KEY",
        "https://api.openai.com:443",
    )


def test_keys_with_their_own_override_do_not_follow_the_provider(setup, admin, member, wired):
    pinned = factories.global_key(
        "openai", "sk-pinned-global-0009", label="pinned", base_url=wired.openai_base_url
    )
    move_openai(admin, "https://llm.elsewhere.example/v1")
    resolved = resolve_key(None, None, factories.provider("openai"))
    assert resolved.credential_id == pinned.id and resolved.base_url == wired.openai_base_url
