"""Which hosts the crawler may connect to: strangers choose image URLs, so private networks are off limits."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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

    async def pin(self, url: str) -> Pinned:
        """Resolve the URL's host once, refuse it unless every address is permitted, and pin the request
        to the address checked, so a second DNS answer (rebinding) cannot send it elsewhere."""
        parts = urlsplit(url)
        hostname = parts.hostname
        if not hostname:
            raise AddressRefused(f"no host in {url[:80]}")
        addresses = await resolve(hostname, parts.port or (443 if parts.scheme == "https" else 80))
        for address in addresses:
            if not self.permits(address):
                raise AddressRefused(f"{hostname} resolves to non-public address {address}")
        port = f":{parts.port}" if parts.port else ""
        preferred = min(addresses, key=lambda address: address.version)  # IPv4 first: IPv6 routes are often missing
        pinned = parts._replace(netloc=bracketed(str(preferred)) + port)
        return Pinned(urlunsplit(pinned), bracketed(hostname) + port, hostname)


@dataclass(frozen=True)
class Pinned:
    """A URL whose host is replaced by a checked address, with what the server must still be told."""

    url: str
    host_header: str
    tls_hostname: str


def bracketed(host: str) -> str:
    """IPv6 literals need brackets inside a URL or a Host header."""
    return f"[{host}]" if ":" in host else host


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OSError(f"cannot resolve {host}: {error.strerror}") from error
    if not infos:
        raise OSError(f"cannot resolve {host}: no addresses")
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
