"""The address policy's tables and URL parsing, without any network."""

from __future__ import annotations

import ipaddress

import pytest

from chalicelib.webhooks.ssrf import (
    AddressPolicy,
    IPAddress,
    UrlRefused,
    parse_url,
    reason_refused,
    system_resolver,
)

REFUSED_ADDRESSES = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.255.0.1", "private"),
    ("100.127.255.254", "shared"),
    ("127.0.0.53", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.31.255.255", "private"),
    ("192.0.0.170", "reserved"),
    ("192.0.2.1", "documentation"),
    ("192.168.0.1", "private"),
    ("198.19.255.255", "benchmarking"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:10.0.0.1", "private, embedded"),
    ("::ffff:0:a9fe:a9fe", "IPv4-translated"),
    ("::a9fe:a9fe", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "loopback, embedded"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("100::1", "discard-only"),
    ("2001::1", "Teredo"),
    ("2001:db8::1", "documentation"),
    ("2002:c0a8:1::1", "6to4"),
    ("fc00::1", "unique local"),
    ("fdff::1", "unique local"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("4000::1", "outside global unicast"),
]
ALLOWED_ADDRESSES = [
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED_ADDRESSES)
def test_refused_ranges_name_their_reason(address: str, reason: str) -> None:
    why = reason_refused(ipaddress.ip_address(address))
    assert why is not None and reason in why


@pytest.mark.parametrize("address", ALLOWED_ADDRESSES)
def test_public_addresses_pass(address: str) -> None:
    assert reason_refused(ipaddress.ip_address(address)) is None


def test_multicast_passes_is_global_but_not_the_policy() -> None:
    # Why the table exists: ipaddress calls this multicast address global.
    address = ipaddress.ip_address("224.0.1.1")
    assert address.is_global
    assert reason_refused(address) == "multicast"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_passes_only_when_allowed(address: str) -> None:
    parsed = ipaddress.ip_address(address)
    assert reason_refused(parsed) is not None
    assert reason_refused(parsed, allow_loopback=True) is None


def test_allowing_loopback_allows_nothing_else() -> None:
    assert reason_refused(ipaddress.ip_address("10.0.0.1"), True) == "private"


def test_http_is_refused_outside_the_local_stage() -> None:
    with pytest.raises(UrlRefused, match="only https"):
        parse_url("http://hooks.example/", allow_http=False)
    assert parse_url("https://hooks.example/", allow_http=False).port == 443


@pytest.mark.parametrize(
    ("url", "host", "port", "path", "host_header"),
    [
        (
            "https://Hooks.Example/a?b=1",
            "hooks.example",
            443,
            "/a?b=1",
            "hooks.example",
        ),
        (
            "https://hooks.example.:8443",
            "hooks.example",
            8443,
            "/",
            "hooks.example:8443",
        ),
        (
            "http://[2606:4700::1]:8080/x",
            "2606:4700::1",
            8080,
            "/x",
            "[2606:4700::1]:8080",
        ),
        ("https://8.8.8.8/", "8.8.8.8", 443, "/", "8.8.8.8"),
    ],
)
def test_urls_parse_into_what_the_transport_needs(
    url: str, host: str, port: int, path: str, host_header: str
) -> None:
    target = parse_url(url, allow_http=True)
    assert (target.host, target.port, target.path) == (host, port, path)
    assert target.host_header == host_header


def test_an_ip_literal_gets_no_tls_server_name() -> None:
    assert parse_url("https://8.8.8.8/", False).server_name is None
    assert parse_url("https://hooks.example/", False).server_name == "hooks.example"


def test_a_name_must_resolve_to_something() -> None:
    def nothing(host: str, port: int) -> list[IPAddress]:
        return []

    with pytest.raises(UrlRefused, match="has no address"):
        AddressPolicy(True, resolver=nothing).vet("http://hooks.example/")


def test_the_dialled_address_is_the_first_answer() -> None:
    answers: list[IPAddress] = [
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("2606:2800:220:1::1"),
    ]
    policy = AddressPolicy(True, resolver=lambda host, port: answers)
    assert policy.vet("https://hooks.example/").address == answers[0]


def test_the_system_resolver_refuses_an_unknown_name() -> None:
    with pytest.raises(UrlRefused, match="does not resolve"):
        system_resolver("name.invalid", 443)


def test_the_system_resolver_reads_literals_without_dns() -> None:
    assert system_resolver("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]


def test_an_overlong_url_is_refused() -> None:
    with pytest.raises(UrlRefused, match="longer than"):
        parse_url("https://hooks.example/" + "a" * 2100, True)


def test_a_bracketed_non_address_is_refused() -> None:
    with pytest.raises(UrlRefused, match="not a valid name or address"):
        parse_url("https://[hooks.example]/", True)
