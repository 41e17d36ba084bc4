"""Which addresses and ports the recording downloader may dial (docs/pipeline.md#the-address-policy).

The public rule is an explicit table, not the standard library's `is_global` (which called
`fec0::/10`, `3fff::/20`, `192.0.0.8/32` and `192.0.0.9/32` global): every block of IANA's IPv4
and IPv6 Special-Purpose Address Registries (as of 2025), plus the multicast and deprecated
blocks those registries leave to others, is refused — including the blocks the registry marks
"globally reachable" (anycast service addresses such as PCP, TURN, AS112 and AMT: no recording
lives there). An IPv6 address must moreover be global unicast (2000::/3).

Two IPv6 forms carry an IPv4 address the packets really go to, and are judged by it:
IPv4-mapped (`::ffff:a.b.c.d`, which the kernel dials as IPv4) and the well-known NAT64 prefix
(`64:ff9b::/96`, what DNS64 answers on IPv6-only networks). Every other tunnelling form is
refused as a whole: Teredo (2001::/32, whose server and client parts and obfuscation make any
per-address judgement guesswork) and 6to4 (2002::/16, deprecated by RFC 7526, relays unknown).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = frozenset({80, 443})

# (block, name, source). IANA IPv4 Special-Purpose Address Registry, then the rest of what is
# not public unicast: multicast (IANA IPv4 Multicast Address Space Registry).
IPV4_SPECIAL = (
    ("0.0.0.0/8", "this network", "RFC 791"),
    ("10.0.0.0/8", "private use", "RFC 1918"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)", "RFC 6598"),
    ("127.0.0.0/8", "loopback", "RFC 1122"),
    ("169.254.0.0/16", "link local (cloud metadata services)", "RFC 3927"),
    ("172.16.0.0/12", "private use", "RFC 1918"),
    ("192.0.0.0/24", "IETF protocol assignments", "RFC 6890"),
    ("192.0.0.0/29", "IPv4 service continuity prefix", "RFC 7335"),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
    ("192.0.0.9/32", "Port Control Protocol anycast", "RFC 7723"),
    ("192.0.0.10/32", "TURN anycast", "RFC 8155"),
    ("192.0.0.170/31", "NAT64/DNS64 discovery", "RFC 8880"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535"),
    ("192.52.193.0/24", "AMT", "RFC 7450"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"),
    ("192.168.0.0/16", "private use", "RFC 1918"),
    ("192.175.48.0/24", "direct delegation AS112 service", "RFC 7534"),
    ("198.18.0.0/15", "benchmarking", "RFC 2544"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"),
    ("224.0.0.0/4", "multicast", "RFC 5771"),
    ("240.0.0.0/4", "reserved", "RFC 1112"),
    ("255.255.255.255/32", "limited broadcast", "RFC 8190"),
)

# IANA IPv6 Special-Purpose Address Registry, plus what the IPv6 Address Space Registry keeps
# out of global unicast (multicast, deprecated site-local). Blocks outside 2000::/3 are refused
# anyway; they are listed so a refusal can say what the address is.
IPV6_SPECIAL = (
    ("::/128", "unspecified", "RFC 4291"),
    ("::1/128", "loopback", "RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped (judged by its IPv4 address)", "RFC 4291"),
    ("64:ff9b::/96", "IPv4/IPv6 translation, NAT64 (judged by its IPv4 address)", "RFC 6052"),
    ("64:ff9b:1::/48", "IPv4/IPv6 translation, local use", "RFC 8215"),
    ("100::/64", "discard only", "RFC 6666"),
    ("100:0:0:1::/64", "dummy IPv6 prefix", "RFC 9780"),
    ("2001::/23", "IETF protocol assignments", "RFC 2928"),
    ("2001::/32", "Teredo", "RFC 4380"),
    ("2001:1::1/128", "Port Control Protocol anycast", "RFC 7723"),
    ("2001:1::2/128", "TURN anycast", "RFC 8155"),
    ("2001:1::3/128", "DNS-SD service registration protocol anycast", "RFC 9665"),
    ("2001:2::/48", "benchmarking", "RFC 5180"),
    ("2001:3::/32", "AMT", "RFC 7450"),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535"),
    ("2001:10::/28", "deprecated ORCHID", "RFC 4843"),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343"),
    ("2001:30::/28", "drone remote ID entity tags", "RFC 9374"),
    ("2001:db8::/32", "documentation", "RFC 3849"),
    ("2002::/16", "6to4", "RFC 3056"),
    ("2620:4f:8000::/48", "direct delegation AS112 service", "RFC 7534"),
    ("3fff::/20", "documentation", "RFC 9637"),
    ("5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602"),
    ("fc00::/7", "unique local", "RFC 4193"),
    ("fe80::/10", "link-local unicast", "RFC 4291"),
    ("fec0::/10", "site-local (deprecated)", "RFC 3879"),
    ("ff00::/8", "multicast", "RFC 4291"),
)

_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TABLE: dict[int, tuple[tuple[Network, str], ...]] = {
    4: tuple((ipaddress.ip_network(block), name) for block, name, _ in IPV4_SPECIAL),
    6: tuple((ipaddress.ip_network(block), name) for block, name, _ in IPV6_SPECIAL),
}


def translated_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped or NAT64 IPv6 address is delivered to (else None)."""
    if ip.version == 6 and (ip in _MAPPED or ip in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # both keep it in the last 32 bits
    return None


def special_purpose(ip: IPAddress) -> str | None:
    """The name of the most specific special-purpose block holding `ip` (None: ordinary)."""
    matches = [(net.prefixlen, name) for net, name in _TABLE[ip.version] if ip in net]
    return max(matches)[1] if matches else None


def refusal(ip: IPAddress) -> str | None:
    """Why the public rule refuses `ip` (None: it is public unicast and may be dialled)."""
    inner = translated_ipv4(ip)
    if inner is not None:
        reason = refusal(inner)
        return f"carries {inner}, {reason}" if reason else None
    name = special_purpose(ip)
    if name:
        return name
    if ip.version == 6 and ip not in _GLOBAL_UNICAST:
        return "outside IPv6 global unicast (2000::/3)"
    return None


def is_public(ip: IPAddress) -> bool:
    return refusal(ip) is None


class AddressPolicy:
    """Which (address, port) pairs may be dialled.

    `networks=None` → the public rule above (the SSRF guard); otherwise exactly the listed
    networks (loopback in development and tests). `ports=None` → any port; otherwise only those.
    """

    def __init__(self, networks: Iterable[Network] | None = None, ports: Iterable[int] | None = DEFAULT_PORTS):
        self._networks = tuple(networks) if networks is not None else None
        self.ports = frozenset(ports) if ports is not None else None

    def allows(self, ip: IPAddress) -> bool:
        return self.refusal(ip) is None

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` may not be dialled (None: it may)."""
        if self._networks is None:
            return refusal(ip)
        target = ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip  # the kernel dials the IPv4
        if any(target.version == net.version and target in net for net in self._networks):
            return None
        return "outside the configured networks"

    def allows_port(self, port: int) -> bool:
        return self.ports is None or port in self.ports
