"""Issue 8 item 6: every outbound call connects only to an address that was checked when the
connection was opened — one resolution, every address validated, the connection pinned to
it — keeping the Host header and TLS verification of the original host name.

The DNS answers come from a stub the test scripts (one name, two answers), never the network.
"""

from __future__ import annotations

import socket
import ssl
import time

import httpx2
import pytest

from tests import factories
from tests.conftest import make_app
from tests.fake_upstream import FakeUpstream
from tests.security.outbound import StubDNS, http_server, https_server
from webapp.extensions import db
from webapp.models import AllowedHost
from webapp.services import llm
from webapp.services.credentials import allowed_hosts, url_guard
from webapp.services.llm import errors, transport
from webapp.services.llm.adapters import adapter_for

HI = [{"role": "user", "content": "Hi"}]
PUBLIC = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> StubDNS:
    """The one resolver of the app — the save-time guard's and the transport's."""
    stub = StubDNS()
    monkeypatch.setattr(url_guard, "system_resolver", stub)
    return stub


def _port(fake: FakeUpstream) -> int:
    return int(fake.base_url.rsplit(":", 1)[1])


def test_a_personal_base_url_rebinding_to_loopback_after_the_check_is_never_called(
    wired, member, dns
):
    port = _port(wired)
    dns.set("llm.rebind.test", [PUBLIC], ["127.0.0.1"])
    factories.user_key(
        member, "gemini", "sk-member-rebind-0001", base_url=f"http://llm.rebind.test:{port}/v1"
    )
    assert dns.lookups == [("llm.rebind.test", port)]  # checked at save: a public address
    member.mode = "byok"
    db.session.commit()
    with pytest.raises(errors.NotConfigured, match="resolves to a loopback address"):
        llm.complete(HI, context=llm.CallContext(user=member), model="gemini/gemini-3.8-flash")
    assert wired.requests == []
    # One more lookup, by the transport: the SDK never resolved the name itself (the test
    # suite refuses real DNS), and the allowed 127.0.0.1:port did not open the name.
    assert dns.lookups == [("llm.rebind.test", port)] * 2


def test_an_admin_set_provider_base_url_is_checked_the_same_way(wired, member, dns):
    dns.set("api.rebind.test", ["127.0.0.1"])
    factories.move_provider("openai", f"http://api.rebind.test:{_port(wired)}/openai/v1")
    with pytest.raises(errors.NotConfigured, match=r"api\.rebind\.test: it resolves to a loopback"):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert wired.requests == []


def test_a_name_with_one_bad_address_among_good_ones_is_refused(wired, member, dns):
    dns.set("mixed.rebind.test", [PUBLIC, "169.254.169.254"])
    factories.move_provider("openai", f"http://mixed.rebind.test:{_port(wired)}/openai/v1")
    with pytest.raises(errors.NotConfigured, match="cloud metadata"):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert wired.requests == []


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    wired, member, dns, monkeypatch
):
    port, host = _port(wired), "llm.pinned.test"
    dns.set(host, ["127.0.0.1"])
    factories.allowed_host(f"{host}:{port}")
    factories.move_provider("openai", f"http://{host}:{port}/openai/v1")
    looked_up: list[str] = []
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda h, *a, **k: looked_up.append(str(h)) or real(h, *a, **k)
    )
    assert llm.complete(HI, context=llm.CallContext(user=member)).text == wired.default_text
    (request,) = wired.requests_to("openai.chat")
    assert request.headers["host"] == f"{host}:{port}"
    assert dns.lookups == [(host, port)]  # resolved once, by the transport
    assert host not in looked_up and looked_up == ["127.0.0.1"]  # connected by address


def test_tls_is_verified_against_the_original_host_name(tmp_path, dns):
    with https_server(tmp_path, "llm.tls.test") as server:
        dns.set("llm.tls.test", ["127.0.0.1"]).set("other.tls.test", ["127.0.0.1"])
        trusted = ssl.create_default_context(cadata=server.ca.decode())
        client = transport.http_client(ssl_context=trusted)
        allowed = frozenset({f"llm.tls.test:{server.port}", f"other.tls.test:{server.port}"})
        with transport.scoped(transport.Scope(allowed=allowed, resolver=dns)):
            response = client.get(f"https://llm.tls.test:{server.port}/v1/models")
            assert response.json() == {"hello": "world"}
            # Same address, but the certificate does not name this host: refused.
            with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.get(f"https://other.tls.test:{server.port}/v1/models")
    assert server.sni == ["llm.tls.test", "other.tls.test"]
    assert server.hosts == [f"llm.tls.test:{server.port}"]


def test_a_pooled_connection_is_dropped_once_its_allowance_is_removed(dns):
    with http_server() as server:
        dns.set("svc.lan", ["127.0.0.1"])
        url, entry = f"http://svc.lan:{server.port}/", f"svc.lan:{server.port}"
        client = transport.http_client()
        allowed = transport.Scope(allowed=frozenset({entry}), resolver=dns)
        with transport.scoped(allowed):
            client.get(url)
            client.get(url)
        assert len(set(server.peers)) == 1  # kept alive and reused while allowed
        with (
            transport.scoped(transport.Scope(resolver=dns)),
            pytest.raises(transport.OutboundRefused, match="loopback"),
        ):
            client.get(url)
        assert len(server.peers) == 2  # the idle connection was not reused


def test_a_client_used_outside_the_call_service_reaches_only_public_addresses(wired):
    with pytest.raises(transport.OutboundRefused, match="loopback"):
        transport.http_client().get(f"{wired.openai_base_url}/models")
    assert wired.requests == []


@pytest.mark.parametrize("protocol", ["openai", "openai_compatible", "anthropic"])
def test_every_sdk_client_is_built_on_the_pinned_transport(protocol):
    sdk = adapter_for(protocol).make_client("https://api.example.com/v1", "sk-test-0000", None)
    http = sdk._client
    assert isinstance(http._transport, transport.PinnedTransport)
    assert http.follow_redirects is False and http.trust_env is False


def _remove_wired_host(wired: FakeUpstream) -> None:
    entry = factories.allowed_host(wired.base_url.removeprefix("http://"))
    allowed_hosts.remove_allowed_host(factories._admin_actor(), entry.id)


def _chat(member, **_):  # type: ignore[no-untyped-def]
    with pytest.raises(errors.NotConfigured) as excinfo:
        llm.complete(HI, context=llm.CallContext(user=member))
    return excinfo.value.message


def _stream(member, **_):  # type: ignore[no-untyped-def]
    with pytest.raises(errors.NotConfigured) as excinfo:
        llm.stream(HI, context=llm.CallContext(user=member))
    return excinfo.value.message


def _embed(member, **_):  # type: ignore[no-untyped-def]
    with pytest.raises(errors.NotConfigured) as excinfo:
        llm.embed(["x"], context=llm.CallContext(user=member))
    return excinfo.value.message


def _models(member, **_):  # type: ignore[no-untyped-def]
    result = llm.list_models(factories.provider("anthropic"), context=llm.CallContext(user=member))
    return result.message


def _provider_test(member, admin_client, **_):  # type: ignore[no-untyped-def]
    provider = factories.provider("openai")
    response = admin_client.post(f"/admin/providers/{provider.id}/test")
    return response.get_data(as_text=True)


def _key_test(member, member_client, **_):  # type: ignore[no-untyped-def]
    key = factories.user_key(member, "openai", "sk-member-key-test-000001")
    response = member_client.post(f"/account/keys/{key.id}/test", headers={"HX-Request": "true"})
    return response.headers["HX-Trigger"]


def _playground(member, admin_client, admin, **_):  # type: ignore[no-untyped-def]
    data = {"user_id": admin.id, "prompt": "hi", "model": "openai/gpt-5.4-mini"}
    return admin_client.post("/admin/playground", data=data).get_data(as_text=True)


@pytest.mark.parametrize(
    "call", [_chat, _stream, _embed, _models, _provider_test, _key_test, _playground]
)
def test_every_outbound_call_goes_through_the_transport_and_sees_a_removal_at_once(
    wired, admin, member, admin_client, member_client, call
):
    _remove_wired_host(wired)  # the fake upstream is loopback: no longer allowed
    said = call(member, admin=admin, admin_client=admin_client, member_client=member_client)
    assert "will not call 127.0.0.1" in said and "loopback" in said
    assert wired.requests == []


@pytest.mark.committed
def test_another_process_removing_an_allowed_host_is_seen_within_a_second(
    app, admin, database_url, instance_path
):
    entry_id = factories.allowed_host("ollama.lan:11434").id
    assert "ollama.lan:11434" in url_guard.allowed_hosts()  # cached in this process now
    other = make_app(database_url, instance_path)
    with other.app_context():
        allowed_hosts.remove_allowed_host(db.session.get(type(admin), admin.id), entry_id)
        db.session.remove()
    removed_at = time.monotonic()
    while "ollama.lan:11434" in url_guard.allowed_hosts():
        assert time.monotonic() - removed_at < 1.0, "still allowed after a second"
        time.sleep(0.05)
    db.session.expire_all()
    assert db.session.get(AllowedHost, entry_id) is None
