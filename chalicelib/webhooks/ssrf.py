"""SSRF defence: which webhook URLs the service accepts and which addresses it dials.

A URL is checked twice: when an endpoint is registered or changed, and again
before every attempt, on the address the attempt will actually connect to.
The host is resolved once per attempt; the transport then connects to that
very address (keeping the Host header and TLS server name), so a DNS answer
that changes between the check and the connection cannot redirect it.

``ipaddress``'s ``is_global`` is not enough on its own (in Python 3.11 it
passes multicast and several IPv6 forms that embed an IPv4 address), so the
refused ranges are an explicit table, each with the reason the caller sees.
IPv6 addresses that embed an IPv4 address a connection would reach (mapped
``::ffff:a.b.c.d`` and NAT64 ``64:ff9b::a.b.c.d``) are judged by the embedded
address; the other embedding forms (compatible, translated, 6to4, Teredo) are
refused outright, and so is everything outside global unicast ``2000::/3``.

Numeric host spellings that browsers and ``inet_aton`` read as IPv4
(``2130706433``, ``017700000001``, ``0x7f.1``, ``127.1``) are refused as
ambiguous, naming the address they stand for.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib import logs

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]

MAX_URL_LENGTH = 2048

LOOPBACK = "loopback"

# (range, reason). Order matters only for the reason shown: narrow first.
_REFUSED_V4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", LOOPBACK),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (including broadcast)"),
)
_REFUSED_V6: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", LOOPBACK),
    ("::/96", "IPv4-compatible (deprecated embedding)"),
    ("::ffff:0:0:0/96", "IPv4-translated (SIIT embedding)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo (embeds IPv4)"),
    ("2001:2::/48", "reserved (benchmarking)"),
    ("2001:10::/28", "reserved (ORCHID)"),
    ("2001:20::/28", "reserved (ORCHIDv2)"),
    ("2001:db8::/32", "reserved (documentation)"),
    ("2002::/16", "6to4 (embeds IPv4)"),
    ("3fff::/20", "reserved (documentation)"),
    ("5f00::/16", "reserved (SRv6 segment identifiers)"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_V4 = tuple((ipaddress.IPv4Network(n), why) for n, why in _REFUSED_V4)
_V6 = tuple((ipaddress.IPv6Network(n), why) for n, why in _REFUSED_V6)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

_HOSTNAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
# Anything but printable ASCII, and the backslash some parsers read as "/":
# a URL travels in a request line, where non-ASCII (U+2028, U+0085, ...) has
# no place unencoded.
_FORBIDDEN_CHARACTERS = re.compile(r"[^\x21-\x5b\x5d-\x7e]")


class UrlRefused(ValueError):
    """Raised when a webhook URL, or an address it resolves to, may not be used."""


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL: where to connect and what to ask for."""

    scheme: str
    host: str  # lowercase; an IP literal without brackets
    port: int
    path: str  # path and query, as sent on the request line
    host_header: str
    literal: IPAddress | None

    @property
    def server_name(self) -> str | None:
        """The TLS server name (SNI): the host name, never an IP literal."""
        return None if self.literal is not None else self.host


@dataclass(frozen=True)
class Dial:
    """A vetted target and the one address the attempt connects to."""

    target: Target
    address: IPAddress


def reason_refused(address: IPAddress, allow_loopback: bool = False) -> str | None:
    """Return why ``address`` may not be dialled, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            inner = reason_refused(embedded, allow_loopback)
            return None if inner is None else f"{inner}, embedded in IPv6"
        why = _lookup(address, _V6) or _outside_global(address)
    else:
        why = _lookup(address, _V4)
    return None if why == LOOPBACK and allow_loopback else why


def _lookup(address: IPAddress, table: tuple[tuple[Network, str], ...]) -> str | None:
    for network, why in table:
        if address in network:
            return why
    return None


def _outside_global(address: ipaddress.IPv6Address) -> str | None:
    if address in _GLOBAL_UNICAST:
        return None
    return "reserved (outside global unicast 2000::/3)"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # Mapped and NAT64 addresses reach the IPv4 host they embed, so that host
    # is what must be judged; a public one is a legitimate target.
    if address in _MAPPED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_url(url: str, allow_http: bool) -> Target:
    """Parse and check a webhook URL's form; raise :class:`UrlRefused`."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if _FORBIDDEN_CHARACTERS.search(url):
        raise UrlRefused(
            "the URL contains whitespace, control or non-ASCII characters or '\\'"
            " (percent-encode them, and use punycode for names)"
        )
    try:
        parts = urlsplit(url)
        hostname = parts.hostname or ""
    except ValueError:
        raise UrlRefused("the URL's host is not a valid name or address") from None
    _check_scheme(parts.scheme.lower(), allow_http)
    if "@" in parts.netloc:
        raise UrlRefused("the URL may not carry user information (user@host)")
    if parts.fragment or url.endswith("#"):
        raise UrlRefused("the URL may not carry a fragment (#...)")
    host = hostname.rstrip(".")
    if not host:
        raise UrlRefused("the URL has no host")
    try:
        explicit_port = parts.port
    except ValueError:
        explicit_port = -1
    port = _port(explicit_port, parts.scheme.lower())
    literal = _literal(host, bracketed=parts.netloc.startswith("["))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(
        scheme=parts.scheme.lower(),
        host=host,
        port=port,
        path=path,
        host_header=_host_header(host, literal, port, parts.scheme.lower()),
        literal=literal,
    )


def _port(port: int | None, scheme: str) -> int:
    if port is None:
        return 443 if scheme == "https" else 80
    if not 1 <= port <= 65535:
        raise UrlRefused("the URL's port is not a number from 1 to 65535")
    return port


def _check_scheme(scheme: str, allow_http: bool) -> None:
    if scheme == "https" or (scheme == "http" and allow_http):
        return
    if scheme == "http":
        raise UrlRefused("only https URLs are accepted in this stage")
    raise UrlRefused(f"the scheme {scheme or '(none)'!r} is not https")


def _literal(host: str, bracketed: bool) -> IPAddress | None:
    if bracketed:
        if "%" in host:
            raise UrlRefused("IPv6 zone identifiers are not accepted")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused(f"{host!r} is not an IPv6 address") from None
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        return _dotted_quad(host)
    if not _HOSTNAME.match(host):
        raise UrlRefused(f"{host!r} is not a valid host name (use punycode)")
    return None


def _dotted_quad(host: str) -> ipaddress.IPv4Address:
    """Accept only canonical dotted-quad IPv4; name what other forms mean."""
    meaning = _loose_ipv4(host)
    if meaning is None:
        raise UrlRefused(f"{host!r} is neither a host name nor an IPv4 address")
    if str(meaning) != host:
        raise UrlRefused(
            f"{host!r} is a non-canonical spelling of the IPv4 address {meaning}"
        )
    return meaning


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` as ``inet_aton`` and URL parsers do (1 to 4 parts, any base)."""
    parts = host.split(".")
    if len(parts) > 4:
        return None
    try:
        numbers = [_number(p) for p in parts]
    except ValueError:
        return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part, 10)


def _host_header(host: str, literal: IPAddress | None, port: int, scheme: str) -> str:
    shown = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` with the system resolver (every address, in order)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"the host {host!r} does not resolve") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class AddressPolicy:
    """Decides which URLs may be registered and which addresses may be dialled."""

    def __init__(
        self,
        allow_http: bool,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_http = allow_http
        self.allow_loopback = allow_loopback
        self._resolver = resolver
        if allow_loopback:
            logs.line(
                logger,
                "webhook_loopback_allowed",
                logging.WARNING,
                detail="webhook deliveries to loopback addresses are allowed",
            )

    def vet(self, url: str) -> Dial:
        """Parse ``url``, resolve it once and check every address it names."""
        target = parse_url(url, self.allow_http)
        if target.literal is not None:
            addresses = [target.literal]
        else:
            addresses = self._resolver(target.host, target.port)
        if not addresses:
            raise UrlRefused(f"the host {target.host!r} has no address")
        # Every answer must pass: a name that mixes a public and a private
        # address is refused rather than dialled at random.
        for address in addresses:
            why = reason_refused(address, self.allow_loopback)
            if why is None:
                continue
            if target.literal is not None:
                raise UrlRefused(f"the address {address} is {why}")
            raise UrlRefused(f"{target.host} resolves to {address}, which is {why}")
        return Dial(target, addresses[0])
