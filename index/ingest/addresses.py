"""Which IP addresses a fetch may connect to: public ones, whatever an IPv6 form embeds."""

from __future__ import annotations

import ipaddress

# NAT64 prefixes (RFC 6052, RFC 8215): the last 32 bits are an IPv4 address the gateway reaches.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: str) -> bool:
    """False for private, loopback, link-local (cloud metadata), multicast and reserved IPs."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or not (ip.is_global and not ip.is_multicast):
            return False
        return all(_public_v4(v4) for v4 in _embedded_ipv4(ip))
    return _public_v4(ip)


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 one may lead to: mapped, compatible, translated, NAT64, 6to4
    or Teredo; none for a plain IPv6 address."""
    if ip.ipv4_mapped or ip.sixtofour:
        return [ip.ipv4_mapped or ip.sixtofour]
    if ip.teredo:
        return [ip.teredo[1]]
    value = int(ip)
    # ::a.b.c.d (compatible), ::ffff:0:a.b.c.d (translated, RFC 2765), 64:ff9b::a.b.c.d
    if value >> 32 in (0, 0xFFFF0000) or ip in _NAT64[0]:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in _NAT64[1]:
        # The local-use prefix may be a /48 (RFC 6052 2.2: the IPv4 address in bits 48-63 and
        # 72-87, around the u octet) or longer (the last 32 bits): both must be public.
        split = ((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF), ipaddress.IPv4Address(split)]
    return []
