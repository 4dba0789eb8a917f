"""Issue 8 item 7: an allowed private host is exactly one host:port, and cloud metadata,
link-local, unspecified and multicast destinations can never be allowed — not when adding
(by name or by literal in any form), and not by the transport even if a row says so."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.outbound import StubDNS
from webapp.extensions import db
from webapp.models import AllowedHost
from webapp.services.credentials import allowed_hosts, url_guard
from webapp.services.errors import ValidationError
from webapp.services.llm import transport

NEVER = [
    "169.254.169.254:80",
    "169.254.170.2:80",
    "169.254.1.1:8080",  # any link-local
    "100.100.100.200:80",
    "[fd00:ec2::254]:80",
    "[fe80::1]:80",
    "[::ffff:169.254.169.254]:80",  # IPv4-mapped
    "2852039166:80",  # 169.254.169.254 in decimal
    "0xa9fea9fe:80",  # … in hex
    "0251.0376.0251.0376:80",  # … in octal
    "0.0.0.0:80",
    "[::]:80",
    "224.0.0.251:5353",
    "[ff02::1]:80",
    "metadata.google.internal:80",
    "METADATA.Google.Internal.:80",
    "metadata.goog:80",
    "metadata:80",
    "instance-data:80",
]


@pytest.mark.parametrize("entry", NEVER)
def test_metadata_link_local_unspecified_and_multicast_can_never_be_added(app, admin, entry):
    with pytest.raises(ValidationError, match="can never be allowed"):
        allowed_hosts.add_allowed_host(admin, entry)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AllowedHost)) == 0


@pytest.mark.parametrize(
    "entry", ["localhost", "localhost:0", "localhost:65536", "http://localhost:80", "[::1]"]
)
def test_an_entry_names_exactly_one_port(app, admin, entry):
    with pytest.raises(ValidationError, match="host and its port"):
        allowed_hosts.add_allowed_host(admin, entry)


def test_the_admin_page_refuses_them_at_the_field_and_explains_the_rule(admin_client):
    page = admin_client.get("/admin/keys").get_data(as_text=True)
    assert "exactly one <code>host:port</code>" in page and "can never be allowed" in page
    response = admin_client.post(
        "/admin/keys/allowed-hosts",
        data={"host": "metadata.google.internal:80"},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "can never be allowed" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AllowedHost)) == 0


def test_internationalized_entries_are_stored_in_punycode(app, admin):
    entry = allowed_hosts.add_allowed_host(admin, "bücher.lan:8080")
    assert (entry.host, entry.port, entry.label) == (
        "xn--bcher-kva.lan",
        8080,
        "xn--bcher-kva.lan:8080",
    )


def test_an_entry_opens_only_its_own_spelling_and_port(app):
    allowed = {"localhost:11434"}
    dns = StubDNS().set("localhost", ["127.0.0.1"])
    assert url_guard.check_base_url("http://localhost:11434/v1", allowed=allowed, resolver=dns)
    for url in ("http://127.0.0.1:11434/v1", "http://localhost:11435/v1", "http://localhost/v1"):
        with pytest.raises(ValidationError, match="loopback"):
            url_guard.check_base_url(url, allowed=allowed, resolver=dns)
    scope = transport.Scope(allowed=frozenset(allowed), resolver=dns)
    assert transport.admit("localhost", 11434, scope)[1] == "localhost:11434"
    with pytest.raises(transport.OutboundRefused):
        transport.admit("127.0.0.1", 11434, scope)
    with pytest.raises(transport.OutboundRefused):
        transport.admit("localhost", 22, scope)


@pytest.mark.parametrize(
    ("host", "answers"),
    [
        ("169.254.169.254", None),
        ("metadata.google.internal", ["10.0.0.1"]),  # refused by name, whatever it resolves to
        ("ollama.lan", ["169.254.169.254"]),  # an allowed name that resolves to metadata
        ("ollama.lan", ["10.0.0.5", "fe80::1"]),
        ("ollama.lan", ["0.0.0.0"]),
        ("ollama.lan", ["::ffff:169.254.170.2"]),
    ],
)
def test_the_transport_refuses_them_even_if_a_row_allows_them(app, admin, host, answers):
    # Rows written around the service (an old import, a hand edit): defense in depth.
    db.session.add(AllowedHost(host=host, port=80, created_by_id=admin.id))
    db.session.commit()
    dns = StubDNS()
    if answers:
        dns.set(host, answers)
    scope = transport.Scope(allowed=frozenset(url_guard._load_allowed()), resolver=dns)
    assert f"{host}:80" in scope.allowed
    with pytest.raises(transport.OutboundRefused) as excinfo:
        transport.admit(host, 80, scope)
    assert not excinfo.value.allowable
    with pytest.raises(ValidationError, match="never"):
        url_guard.check_base_url(f"http://{host}/v1", allowed=scope.allowed, resolver=dns)


def test_a_private_address_is_fine_for_an_allowed_entry_only(app):
    dns = StubDNS().set("ollama.lan", ["10.0.0.5"])
    with pytest.raises(transport.OutboundRefused, match="private network") as excinfo:
        transport.admit("ollama.lan", 11434, transport.Scope(resolver=dns))
    assert excinfo.value.allowable
    scope = transport.Scope(allowed=frozenset({"ollama.lan:11434"}), resolver=dns)
    assert [str(a) for a in transport.admit("ollama.lan", 11434, scope)[0]] == ["10.0.0.5"]


def test_factories_and_the_service_agree_on_removal(app, admin):
    entry = factories.allowed_host("ollama.lan:11434")
    assert "ollama.lan:11434" in url_guard.allowed_hosts()
    allowed_hosts.remove_allowed_host(admin, entry.id)
    assert "ollama.lan:11434" not in url_guard.allowed_hosts()  # no second's wait here
