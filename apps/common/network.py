"""Which IP addresses the platform may connect to on a merchant's behalf (webhook URLs):
server-side request forgery must never reach the platform's own network."""

from __future__ import annotations

import ipaddress

# NAT64 (RFC 6052): the last 32 bits are an IPv4 address the gateway connects to.
_NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_ip_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast only: not private, loopback, link-local, multicast, reserved
    or unspecified. An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, NAT64) is
    judged by that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64_NETWORK:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_ip_address(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
