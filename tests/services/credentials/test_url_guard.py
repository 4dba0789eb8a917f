"""The SSRF guard for base URLs: literal addresses in every form, DNS names, schemes."""

from __future__ import annotations

import pytest

from webapp.services.credentials.url_guard import check_base_url, system_resolver
from webapp.services.errors import ValidationError


def dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver that answers from ``table`` and fails for anything else."""

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        return system_resolver(host, port)  # literals only: the tests never reach DNS

    return resolve


FAKE_DNS = dns(
    {
        "api.public.example": ["93.184.216.34"],
        "v6.public.example": ["2606:2800:220:1:248:1893:25c8:1946"],
        "intranet.example": ["10.1.2.3"],
        "rebind.example": ["93.184.216.34", "127.0.0.1"],
        "metadata.example": ["169.254.169.254"],
        "v6-private.example": ["fd12:3456::1"],
    }
)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:11434/v1", "loopback"),
        ("http://localhost/v1", "loopback"),
        ("http://2130706433/", "loopback"),  # decimal 127.0.0.1
        ("http://0x7f000001/", "loopback"),  # hex
        ("http://0177.0.0.1/", "loopback"),  # octal
        ("http://127.1/", "loopback"),  # short form
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("http://[2002:a9fe:a9fe::]/", "metadata"),  # 6to4 wrapping 169.254.169.254
        ("http://10.0.0.8/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.20/v1", "private"),
        ("http://0xa9fea9fe/", "metadata"),  # 169.254.169.254 in hex
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://169.254.10.10/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://100.64.0.1/", "not a public"),  # carrier-grade NAT
        ("https://intranet.example/v1", "10.1.2.3, a private"),
        ("https://rebind.example/v1", "127.0.0.1, a loopback"),
        ("https://metadata.example/", "metadata"),
        ("https://v6-private.example/", "private"),
    ],
)
def test_private_destinations_are_refused_with_the_reason(url, reason):
    with pytest.raises(ValidationError) as excinfo:
        check_base_url(url, allowed=set(), resolver=FAKE_DNS)
    message = excinfo.value.errors["base_url"]
    assert reason in message
    never = reason in ("metadata", "link-local", "multicast", "unspecified")
    assert ("an admin can allow this host" in message) is not never


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://api.public.example/", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://api.public.example/", "Only http:// and https://"),
        ("https://user:pw@api.public.example/", "credentials"),
        ("https:///v1", "host name"),
        ("https://api.public.example/v1?x=1", "query string"),
        ("http://[::1/", "not a valid URL"),
        ("https://api.public.example:99999/", "not a valid URL"),
        ("https://no-such-host.invalid/", "could not be resolved"),
    ],
)
def test_malformed_or_non_http_urls_are_refused(url, reason):
    resolver = dns({"no-such-host.invalid": []}) if "invalid" not in url else _failing
    with pytest.raises(ValidationError, match=reason):
        check_base_url(url, allowed=set(), resolver=resolver)


def _failing(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.public.example/v1/",
        "https://v6.public.example/v1",
        "http://93.184.216.34:8080/v1",
        "https://API.Public.Example/v1",
    ],
)
def test_public_hosts_are_accepted_and_normalized(url):
    normalized = check_base_url(url, allowed=set(), resolver=FAKE_DNS)
    assert normalized == normalized.rstrip("/") and normalized.startswith(("http://", "https://"))
    assert "API" not in normalized


def test_an_admin_allowed_host_is_accepted():
    assert (
        check_base_url("http://localhost:11434/v1", allowed={"localhost:11434"}, resolver=FAKE_DNS)
        == "http://localhost:11434/v1"
    )
    assert (
        check_base_url(
            "http://intranet.example/v1", allowed={"intranet.example:80"}, resolver=FAKE_DNS
        )
        == "http://intranet.example/v1"
    )
    with pytest.raises(ValidationError):  # a host alone opens no port
        check_base_url(
            "http://intranet.example/v1", allowed={"intranet.example"}, resolver=FAKE_DNS
        )
    with pytest.raises(ValidationError):  # another port of an allowed host:port is not allowed
        check_base_url("http://localhost:9999/v1", allowed={"localhost:11434"}, resolver=FAKE_DNS)


def test_allowed_hosts_come_from_the_database(app):
    """The one test here that needs the database: with no ``allowed`` given, it is read."""
    from tests import factories

    factories.allowed_host("localhost:11434")
    assert check_base_url("http://localhost:11434/v1", resolver=FAKE_DNS)
