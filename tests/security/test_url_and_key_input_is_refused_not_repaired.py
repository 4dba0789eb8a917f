"""Issue 8 item 10: base URLs, key labels and keys with invisible or non-ASCII characters are
refused (not stripped); port 0 is refused; hosts are stored and shown in punycode and
lookalike labels refused — in a base URL saved on a page and in one sent with a gateway call
(X-BYOK-Base-URL) alike; an expired key is neither used nor tested, a disabled provider not
tested by members; a short key shows none of its characters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from tests import factories
from tests.gateway.support import make_token
from tests.security import databases
from tests.security.outbound import StubDNS
from webapp.extensions import db
from webapp.models import Credential, Provider
from webapp.models.base import utcnow
from webapp.services import llm
from webapp.services.credentials import crypto, hints, storage, url_guard
from webapp.services.errors import ValidationError

HX = {"HX-Request": "true"}
fresh_app = databases.fresh_app  # an app on an empty database of its own
INVISIBLE = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]
INVISIBLE += ["\u202e", "\u200b", "\ufeff"]  # bidi override, zero width space, BOM


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> StubDNS:
    stub = StubDNS()
    for name in ("api.example.com", "xn--bcher-kva.example", "xn--mnchen-3ya.de"):
        stub.set(name, ["93.184.216.34"])
    stub.set("xn--r8jz45g.xn--zckzah", ["93.184.216.34"])
    monkeypatch.setattr(url_guard, "system_resolver", stub)
    return stub


def _add(client, provider: Provider, secret: str, **fields):  # type: ignore[no-untyped-def]
    data = {f"add-{provider.id}-{k}": v for k, v in {"secret": secret, **fields}.items()}
    return client.post(f"/account/providers/{provider.id}/keys", data=data, headers=HX)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) or 0


@pytest.mark.parametrize("char", INVISIBLE)
@pytest.mark.parametrize(
    "template", ["https://api.example.com/v1{}", "https://api.exa{}mple.com/v1", "{}https://x/"]
)
def test_invisible_characters_in_a_base_url_are_refused_not_stripped(app, dns, char, template):
    with pytest.raises(ValidationError, match=r"invisible or control character \(U\+"):
        url_guard.check_base_url(template.format(char))


def test_the_member_page_refuses_them_at_the_field_and_saves_nothing(member_client, dns):
    gemini = factories.provider("gemini")
    response = _add(
        member_client,
        gemini,
        "sk-member-0123456789abcdef",
        base_url="https://api.example.com/v1\r\nX: y",
    )
    assert response.status_code == 422 and "control character (U+000D)" in response.get_data(
        as_text=True
    )
    assert _count() == 0


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_characters_in_a_key_label_are_refused(app, member, char):
    with pytest.raises(ValidationError) as excinfo:
        factories.user_key(member, "openai", "sk-member-0123456789abcdef", label=f"work{char}1")
    assert "invisible character" in excinfo.value.errors["label"]
    assert _count() == 0


@pytest.mark.parametrize("url", ["https://api.example.com:0/v1", "http://api.example.com:00/"])
def test_port_zero_is_refused(app, dns, url):
    with pytest.raises(ValidationError, match="Port 0"):
        url_guard.check_base_url(url)


def test_internationalized_hosts_are_stored_and_shown_in_punycode(member_client, member, dns):
    gemini = factories.provider("gemini")
    response = _add(
        member_client, gemini, "sk-member-0123456789abcdef", base_url="https://Bücher.example/v1"
    )
    assert response.status_code == 200
    key = db.session.scalar(sa.select(Credential))
    assert key.base_url == "https://xn--bcher-kva.example/v1"
    page = member_client.get("/account").get_data(as_text=True)
    page = page.replace("<wbr>", "")
    assert "xn--bcher-kva.example" in page and "Bücher" not in page and "bücher" not in page
    assert url_guard.check_base_url("https://münchen.de") == "https://xn--mnchen-3ya.de"
    assert url_guard.check_base_url("https://例え.テスト/v1") == "https://xn--r8jz45g.xn--zckzah/v1"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://openаi.com/v1", "mixes Cyrillic and Latin"),  # Cyrillic а
        ("https://xn--openi-7ve.com/v1", "mixes Cyrillic and Latin"),  # the same, typed encoded
        ("https://аnthropic.com/", "mixes Cyrillic and Latin"),
        ("https://gοogle.com/", "mixes Greek and Latin"),  # Greek omicron
        ("https://аррӏе.com/", "Cyrillic letters that look Latin"),  # all Cyrillic "apple"
    ],
)
def test_lookalike_host_labels_are_refused(app, dns, url, reason):
    with pytest.raises(ValidationError, match=reason):
        url_guard.check_base_url(url)


@pytest.mark.parametrize(
    "secret",
    [
        "sk-tëst-0123456789abcdef",  # a letter outside ASCII
        "sk-test-0123456789abcdef\u200b",  # zero width space pasted along
        "sk-test 0123456789abcdef",
        "sk-test-0123456789\tabcdef",
        "sk-тест-0123456789abcdef",
    ],
)
def test_a_key_that_is_not_printable_ascii_is_a_422_at_save(member_client, secret):
    response = _add(member_client, factories.provider("openai"), secret)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "printable ASCII" in body and "field-error" in body
    assert _count() == 0


def _expired_key(member) -> Credential:  # type: ignore[no-untyped-def]
    key = factories.user_key(member, "openai", "sk-member-expired-0123456789")
    key.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    return key


def test_an_expired_key_is_neither_tested_nor_used(wired, member, member_client):
    key = _expired_key(member)
    result = llm.test_connection(
        key.provider, credential=key, context=llm.CallContext(user=member, caller="test")
    )
    assert not result.ok and result.error_type == "not_configured" and "expired" in result.message
    response = member_client.post(f"/account/keys/{key.id}/test", headers=HX)
    assert "has expired" in response.headers["HX-Trigger"]
    body = member_client.get("/account").get_data(as_text=True)
    assert "expired: not tested" in body
    assert f"/account/keys/{key.id}/test" not in body  # no Test button for it
    member.mode = "byok"
    db.session.commit()
    with pytest.raises(llm.LLMError, match="has expired"):
        llm.complete([{"role": "user", "content": "x"}], context=llm.CallContext(user=member))
    assert wired.requests == []
    db.session.refresh(key)
    assert key.last_test_status == "unknown"  # an expired key is not marked invalid


def test_members_cannot_test_keys_of_a_disabled_provider(wired, member, member_client, admin):
    key = factories.user_key(member, "openai", "sk-member-disabled-0123456789")
    key.provider.enabled = False
    db.session.commit()
    response = member_client.post(f"/account/keys/{key.id}/test", headers=HX)
    assert "is disabled" in response.headers["HX-Trigger"]
    assert wired.requests == []
    admin_result = llm.test_connection(
        key.provider, credential=key, context=llm.CallContext(user=admin, caller="test")
    )
    assert admin_result.ok  # an admin may still check a key before enabling the provider


def test_keys_shorter_than_twenty_characters_show_none_of_their_characters(
    member_client, member, admin_client
):
    short = factories.user_key(member, "openai", "sk-short-12345")
    long = factories.user_key(member, "anthropic", "sk-long-enough-key-WXYZ")
    assert (short.secret_hint, short.masked) == ("", "•••• set")
    assert long.masked == "•••• set (…WXYZ)"
    page = member_client.get("/account").get_data(as_text=True)
    assert "•••• set (…WXYZ)" in page and "2345" not in page and "•••• set</code>" in page
    factories.global_key("gemini", "sk-global-12345")  # 15 characters
    providers = admin_client.get("/admin/providers").get_data(as_text=True)
    keys = admin_client.get("/admin/keys").get_data(as_text=True)
    for body in (providers, keys):
        assert "•••• set" in body and "2345" not in body and "(…" not in body


# --- keys saved before the short-key rule ----------------------------------------------------


def _legacy_hints() -> dict[str, Credential]:
    """Keys as the app stored them before the hardening: the last four characters, whatever
    the key's length; and a row whose secret no configured key opens."""
    keys = {
        "short": factories.user_key(
            factories.make_user("a@example.com"), "openai", "sk-short-12345"
        ),
        "long": factories.global_key("anthropic", "sk-long-enough-key-WXYZ"),
        "lost": factories.global_key("gemini", "sk-lost-key-0000000001"),
    }
    keys["short"].secret_hint = "2345"
    keys["long"].secret_hint = ""  # e.g. cleared by a migration run without the keys
    keys["lost"].secret_ciphertext = "v9:AAAA"
    db.session.commit()
    return keys


def test_hints_of_short_keys_saved_before_the_rule_are_cleared(app, admin_client):
    keys = _legacy_hints()
    report = hints.repair_hints(db.session.connection(), crypto.keyring())
    db.session.commit()
    assert (report.checked, report.undecryptable) == (3, 1)
    masks = {name: fresh_key(key.id).masked for name, key in keys.items()}
    assert masks == {"short": "•••• set", "long": "•••• set (…WXYZ)", "lost": "•••• set"}
    page = admin_client.get("/admin/keys").get_data(as_text=True)
    assert "(…2345)" not in page
    assert hints.repair_hints(db.session.connection(), crypto.keyring()).fixed == 0  # settled


def test_rotating_the_keys_repairs_the_hints_too(app, runner):
    keys = _legacy_hints()
    result = runner.invoke(args=["encryption-keys", "rotate"])
    assert "hints checked=3 fixed=3" in result.output
    assert fresh_key(keys["short"].id).secret_hint == ""
    assert fresh_key(keys["long"].id).secret_hint == "WXYZ"


def fresh_key(key_id: int) -> Credential:
    db.session.expire_all()
    found = db.session.get(Credential, key_id)
    assert found is not None
    return found


def _legacy_row(conn: sa.Connection, ring: crypto.KeyRing, row_id: int, secret: str) -> None:
    aad = storage.aad_for(row_id, "global", "global", 1)
    conn.execute(
        sa.text(
            "INSERT INTO credentials (id, scope, owner_key, provider_id, label, secret_ciphertext,"
            " secret_hint, last_test_status, created_at, updated_at, version) VALUES (:id,"
            " 'global', 'global', 1, :label, :ct, :hint, 'unknown', :now, :now, 1)"
        ),
        {
            "id": row_id,
            "label": f"key {row_id}",
            "ct": ring.encrypt(secret, aad),
            "hint": secret[-4:],
            "now": utcnow().replace(tzinfo=None),
        },
    )


@pytest.mark.committed
def test_the_migration_clears_hints_of_short_keys_and_keeps_those_of_long_ones(fresh_app):
    upgrade(revision="0010_usage_cubes")
    ring = crypto.keyring()
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO providers (id, slug, display_name, protocol, credit_multiplier,"
                " enabled, is_preset, created_at, updated_at, version) VALUES (1, 'openai',"
                " 'OpenAI', 'openai', 1, true, false, :now, :now, 1)"
            ),
            {"now": utcnow().replace(tzinfo=None)},
        )
        _legacy_row(conn, ring, 1, "sk-short-12345")
        _legacy_row(conn, ring, 2, "sk-long-enough-key-WXYZ")
    upgrade(revision="0015_short_key_hints")
    with db.engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT id, secret_hint FROM credentials")).all())
    assert stored == {1: "", 2: "WXYZ"}


# --- a base URL sent with a gateway call ---------------------------------------------------

BYOK_KEY = "sk-callers-own-key-5512aa"


def _byok_call(client, member, base_url: str):  # type: ignore[no-untyped-def]
    _, secret = make_token(member)
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": "Hi"}]}),
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "X-BYOK-API-Key": BYOK_KEY,
            "X-BYOK-Base-URL": base_url,
        },
    )


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("https://api.exa\tmple.com/v1", "invisible or control character (U+0009)"),
        ("https://api.example.com/v\t1", "invisible or control character (U+0009)"),
        ("https://openаi.com/v1", "mixes Cyrillic and Latin"),  # Cyrillic а
        ("https://xn--openi-7ve.com/v1", "mixes Cyrillic and Latin"),
        ("https://api.example.com:0/v1", "Port 0"),
        ("http://169.254.169.254/v1", "cloud metadata address"),
        ("http://[64:ff9b::a9fe:a9fe]/v1", "cloud metadata address"),
        ("http://10.0.0.5/v1", "private network address"),
        ("https://user:pw@api.example.com/v1", "credentials"),
        ("ftp://api.example.com/", "Only http:// and https://"),
        ("https://api.example.com/v1?x=1", "query string"),
    ],
)
def test_a_byok_base_url_gets_the_checks_of_a_saved_one_and_a_400_naming_the_header(
    wired, client, member, dns, base_url, reason
):
    response = _byok_call(client, member, base_url)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["param"] == "X-BYOK-Base-URL"
    assert error["message"].startswith("X-BYOK-Base-URL: ") and reason in error["message"]
    assert BYOK_KEY not in response.get_data(as_text=True)
    assert wired.requests == []


def test_a_byok_base_url_is_used_as_checked(wired, client, member):
    response = _byok_call(client, member, wired.openai_base_url + "/")
    assert response.status_code == 200
    sent = wired.requests_to("openai.chat")[-1]
    assert sent.headers["authorization"] == f"Bearer {BYOK_KEY}"
