"""Which key serves a call, for every combination of mode, scope, expiry and provider state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import Credential, LastTestStatus
from webapp.models.base import utcnow
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.resolution import resolve_key
from webapp.services.errors import NotConfigured

USER_KEY, ORG_KEY, GLOBAL_KEY, ENV_KEY = (
    "sk-user-0001",
    "sk-org-0002",
    "sk-global-0003",
    "sk-env-0004",
)


@dataclass(frozen=True)
class Case:
    mode: str
    user: str = ""  # "", "ok", "expired"
    org: str = ""
    glob: str = ""
    env: bool = False
    enabled: bool = True
    expect: str = ""  # the secret served, or "error: <fragment>"


CASES = [
    # BYOK: the user's own key, and nothing else.
    Case("byok", user="ok", org="ok", glob="ok", env=True, expect=USER_KEY),
    Case(
        "byok", user="", org="ok", glob="ok", env=True, expect="error: No personal key for OpenAI"
    ),
    Case("byok", user="expired", org="ok", glob="ok", env=True, expect="error: has expired"),
    Case("byok", user="ok", enabled=False, expect="error: disabled"),
    # Managed: org -> global -> environment; never the user's key.
    Case("managed", user="ok", org="ok", glob="ok", env=True, expect=ORG_KEY),
    Case("managed", user="ok", org="", glob="ok", env=True, expect=GLOBAL_KEY),
    Case("managed", user="ok", org="expired", glob="ok", env=True, expect=GLOBAL_KEY),
    Case("managed", org="", glob="", env=True, expect=ENV_KEY),
    Case("managed", org="expired", glob="expired", env=True, expect=ENV_KEY),
    Case("managed", user="ok", org="", glob="", env=False, expect="error: no key is configured"),
    Case("managed", org="expired", glob="expired", env=False, expect="error: have expired"),
    Case("managed", org="ok", glob="ok", env=True, enabled=False, expect="error: disabled"),
]
SOURCES = {USER_KEY: "user", ORG_KEY: "org", GLOBAL_KEY: "global", ENV_KEY: "environment"}


def _key(state: str, make) -> None:  # type: ignore[no-untyped-def]
    if not state:
        return
    credential = make()
    if state == "expired":
        db.session.execute(
            sa.update(Credential)
            .where(Credential.id == credential.id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c.mode}-u{c.user}-o{c.org}-g{c.glob}-e{c.env}-{c.enabled}"
)
def test_key_resolution(app, member, monkeypatch, case):
    org = factories.make_org("acme")
    factories.add_member(org, member)
    openai = factories.provider("openai")
    _key(case.user, lambda: factories.user_key(member, "openai", USER_KEY))
    _key(case.org, lambda: factories.org_key(org, "openai", ORG_KEY))
    _key(case.glob, lambda: factories.global_key("openai", GLOBAL_KEY))
    if case.env:
        monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    else:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    openai.enabled = case.enabled
    member.mode = case.mode
    db.session.commit()

    if case.expect.startswith("error: "):
        with pytest.raises(NotConfigured) as excinfo:
            resolve_key(member, org, openai)
        assert case.expect.removeprefix("error: ") in excinfo.value.message
        for secret in (USER_KEY, ORG_KEY, GLOBAL_KEY, ENV_KEY):
            assert secret not in excinfo.value.message
        return
    resolved = resolve_key(member, org, openai)
    assert resolved.secret == case.expect
    assert resolved.source == SOURCES[case.expect]
    assert resolved.secret not in repr(resolved)


def test_managed_call_without_org_uses_global_then_environment(app, member, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    openai = factories.provider("openai")
    assert resolve_key(member, None, openai).source == "environment"
    factories.global_key("openai", GLOBAL_KEY)
    assert resolve_key(member, None, openai).secret == GLOBAL_KEY


def test_org_keys_serve_only_members(app, member):
    org = factories.make_org("acme")
    factories.org_key(org, "openai", ORG_KEY)
    with pytest.raises(NotConfigured, match="not a member of Acme"):
        resolve_key(member, org, factories.provider("openai"))


def test_keyless_local_provider_needs_no_key_in_managed_mode(app, member):
    ollama = factories.provider("ollama")
    ollama.enabled = True
    db.session.commit()
    resolved = resolve_key(member, None, ollama)
    assert resolved.source == "none" and resolved.credential_id is None
    member.mode = "byok"
    with pytest.raises(NotConfigured, match="No personal key for Ollama"):
        resolve_key(member, None, ollama)


def test_credential_base_url_overrides_the_providers(app, member):
    factories.allowed_host("gateway.internal.example:443")
    key = factories.user_key(
        member, "gemini", USER_KEY, base_url="https://gateway.internal.example/v1"
    )
    member.mode = "byok"
    resolved = resolve_key(member, None, factories.provider("gemini"))
    assert resolved.base_url == "https://gateway.internal.example/v1"
    assert resolved.credential_id == key.id and resolved.label == "default"


def test_a_key_known_to_be_invalid_is_used_last(app, member):
    first = factories.user_key(member, "openai", "sk-first-000", label="first")
    factories.user_key(member, "openai", "sk-second-000", label="second")
    member.mode = "byok"
    db.session.commit()  # the test's bookkeeping below writes on a connection of its own
    assert resolve_key(member, None, factories.provider("openai")).secret == "sk-first-000"
    credentials.record_test(first.id, LastTestStatus.INVALID, "401")
    assert resolve_key(member, None, factories.provider("openai")).secret == "sk-second-000"


def test_an_undecryptable_key_is_a_clear_error_without_the_key(app, member):
    a = factories.user_key(member, "openai", USER_KEY, label="a")
    b = factories.user_key(member, "anthropic", "sk-ant-other-1", label="b")
    db.session.execute(
        sa.update(Credential)
        .where(Credential.id == a.id)
        .values(secret_ciphertext=b.secret_ciphertext)
    )
    db.session.commit()
    db.session.expire_all()
    member.mode = "byok"
    with pytest.raises(NotConfigured, match="cannot be decrypted") as excinfo:
        resolve_key(member, None, factories.provider("openai"))
    assert USER_KEY not in excinfo.value.message and "sk-ant" not in excinfo.value.message
