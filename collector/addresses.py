"""Which hosts the crawler may connect to: strangers choose image URLs, so private networks are off limits."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address the policy forbids."""


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses are always allowed; `allowed` lists the non-public networks that are too."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def allow_all(cls) -> AddressPolicy:
        return cls((ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")))

    @classmethod
    def from_networks(cls, networks: list[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return True
        return address.is_global and not address.is_multicast

    async def check(self, url: str) -> None:
        """Raise AddressRefused unless every address the URL's host resolves to is permitted."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise AddressRefused(f"no host in {url[:80]}")
        for address in await resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
            if not self.permits(address):
                raise AddressRefused(f"{parts.hostname} resolves to non-public address {address}")


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OSError(f"cannot resolve {host}: {error.strerror}") from error
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
