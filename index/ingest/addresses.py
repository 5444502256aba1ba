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
        embedded = _embedded_ipv4(ip)
        if embedded is None:
            return True
        ip = embedded
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to: mapped, compatible, NAT64, 6to4 or Teredo."""
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    # ::a.b.c.d (compatible), ::ffff:0:a.b.c.d (translated, RFC 2765), 64:ff9b::a.b.c.d
    if int(ip) >> 32 in (0, 0xFFFF0000) or any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
