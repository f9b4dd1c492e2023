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

    def choose(self, hostname: str, addresses: list[IPAddress]) -> IPAddress:
        """The address to connect to, or AddressRefused unless every address the host has is permitted."""
        for address in addresses:
            if not self.permits(address):
                raise AddressRefused(f"{hostname} resolves to non-public address {address}")
        return min(addresses, key=lambda address: address.version)  # IPv4 first: IPv6 routes are often missing


@dataclass(frozen=True)
class Pinned:
    """A URL whose host is replaced by a checked address, with what the server must still be told."""

    url: str
    host_header: str
    tls_hostname: str


class Pinner:
    """Resolves each host once per run and pins every request to the address that was checked, so a
    second DNS answer (rebinding) cannot send a request elsewhere; refusals are remembered too."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._chosen: dict[tuple[str, int], IPAddress | AddressRefused] = {}

    async def pin(self, url: str) -> Pinned:
        parts = urlsplit(url)
        hostname = parts.hostname
        if not hostname:
            raise AddressRefused(f"no host in {url[:80]}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (hostname, port) not in self._chosen:
            try:
                self._chosen[hostname, port] = self.policy.choose(hostname, await resolve(hostname, port))
            except AddressRefused as refused:
                self._chosen[hostname, port] = refused
        chosen = self._chosen[hostname, port]
        if isinstance(chosen, AddressRefused):
            raise chosen
        suffix = f":{parts.port}" if parts.port else ""
        pinned = parts._replace(netloc=bracketed(str(chosen)) + suffix)
        return Pinned(urlunsplit(pinned), bracketed(hostname) + suffix, hostname)


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
