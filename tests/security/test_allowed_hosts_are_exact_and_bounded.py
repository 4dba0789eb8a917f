"""Issue 8 item 7: an allowed private host is exactly one host:port, and cloud metadata,
link-local, unspecified and multicast destinations can never be allowed — not when adding
(by name or by literal in any form, IPv4 inside IPv6 included), and not by the transport even
if a row says so. What counts as public is decided by a table of the IANA special-purpose
registries, not by Python's ``is_global`` (3.11 calls 192.0.0.192 global)."""

from __future__ import annotations

import ipaddress

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.outbound import StubDNS
from webapp.extensions import db
from webapp.models import AllowedHost
from webapp.services.credentials import addresses, allowed_hosts, special_ranges, url_guard
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
    "[::a9fe:a9fe]:80",  # IPv4-compatible
    "[64:ff9b::a9fe:a9fe]:80",  # NAT64, the well-known prefix
    "[64:ff9b:1::a9fe:a9fe]:80",  # NAT64, local use, a /96 inside the /48
    "[64:ff9b:1:a9fe:a9:fe00::]:80",  # … a /48 layout (RFC 6052: bits 64-71 skipped)
    "[2002:a9fe:a9fe::]:80",  # 6to4
    "[2001:0:808:808::5601:5601]:80",  # Teredo, client 169.254.169.254 (bits inverted)
    "192.0.0.192:80",  # Oracle Cloud classic metadata
    "168.63.129.16:80",  # Azure WireServer
    "[fd20:ce::254]:80",  # Google Cloud metadata over IPv6
    "255.255.255.255:80",
    "0.1.2.3:80",  # "this network"
    "[fe80::a9fe:a9fe]:80",
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
        ("ollama.lan", ["64:ff9b::a9fe:a9fe"]),
        ("ollama.lan", ["::a9fe:a9fe"]),
        ("ollama.lan", ["192.0.0.192"]),
        ("ollama.lan", ["10.0.0.5", "[2001:0:808:808::5601:5601]".strip("[]")]),
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


# --- the address table ---------------------------------------------------------------------

# One sample per IANA special-purpose range and per IPv4-in-IPv6 form: none is public.
NOT_PUBLIC = [
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.0.9", "IETF protocol assignments"),  # globally reachable per IANA, not a provider
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.7", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.254", "benchmarking"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("240.0.0.1", "reserved"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.31.196.1", "AS112"),
    ("192.52.193.1", "AMT"),
    ("192.175.48.1", "AS112"),
    ("10.1.2.3", "private network"),
    ("172.31.0.1", "private network"),
    ("192.168.0.1", "private network"),
    ("127.0.0.2", "loopback"),
    ("::1", "loopback"),
    ("fd12:3456::1", "private network"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:2::1", "IETF protocol assignments"),  # benchmarking
    ("100::1", "discard-only"),
    ("5f00::1", "segment routing"),
    ("fec0::1", "site-local"),
    ("::1:2:3:4", "reserved"),
    ("4000::1", "not global unicast"),
    ("64:ff9b:1::808:808", "local-use IPv4/IPv6 translation"),
    ("::808:808", "IPv4-compatible"),
    ("64:ff9b::a00:5", "private network"),  # NAT64 of 10.0.0.5
    ("::ffff:10.0.0.5", "private network"),
    ("2002:a00:5::", "private network"),  # 6to4 of 10.0.0.5
    ("64:ff9b::7f00:1", "loopback"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "reason"), NOT_PUBLIC)
def test_every_special_purpose_range_is_refused_and_says_which(address, reason):
    found = ipaddress.ip_address(address)
    assert reason in (addresses.why_refused(found) or "")
    assert addresses.why_never(found) is None  # an admin may allow such a host:port
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(ValidationError, match="an admin can allow this host"):
        url_guard.check_base_url(f"http://{literal}/v1", allowed=set())


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_in_every_form(address):
    assert addresses.why_refused(ipaddress.ip_address(address)) is None


def test_the_table_names_the_oracle_metadata_address_python_calls_global():
    found = ipaddress.ip_address("192.0.0.192")
    assert found.is_global  # Python 3.11's view, the reason for the table
    assert addresses.why_never(found) == "a cloud metadata address"
    with pytest.raises(ValidationError, match="never calls it"):
        url_guard.check_base_url("http://192.0.0.192/", allowed=set())


def _stdlib_non_global() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks the standard library's flags know about (private, reserved …)."""
    found = []
    for constants in (ipaddress._IPv4Constants, ipaddress._IPv6Constants):  # type: ignore[attr-defined]
        for name in dir(constants):
            value = getattr(constants, name)
            values = value if isinstance(value, list) else [value]
            found += [v for v in values if isinstance(v, ipaddress._BaseNetwork)]  # type: ignore[attr-defined]
    return found


def test_the_table_refuses_everything_the_standard_library_calls_special():
    networks = _stdlib_non_global()
    assert len(networks) > 20
    for network in networks:
        for address in (network[0], network[-1], network[network.num_addresses // 2]):
            if address.is_global:  # exceptions the library itself lists as global
                continue
            assert addresses.why_refused(address), f"{address} (in {network}) passes as public"


def test_never_ranges_are_exactly_those_the_issue_names():
    never = {str(r.network) for r in (*special_ranges.IPV4, *special_ranges.IPV6) if r.never}
    assert never == {
        "0.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "fe80::/10",
        "ff00::/8",
    }


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254"],
)
def test_known_metadata_addresses_are_never_allowed(address):
    assert addresses.why_never(ipaddress.ip_address(address)) == "a cloud metadata address"
